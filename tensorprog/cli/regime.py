"""`tensorprog regime`: the kernel-regime training limit of an abc-parametrized MLP (TP4 Thm 3.8).

    tensorprog regime --preset ntp --depth 2 --activation "x/2 + x^2/4" \\
        --inputs=1,-1,1/2,1 --targets=1,1,-1,0 --lr 1/2 --eval-inputs=-1/2
    tensorprog regime --preset sp_lr_1/n --depth 2 ... --width 1024 --seeds 16
    tensorprog regime --a 0,1/2,1/2 --b 0,0,0 --c 0 ... --json

Prints which layers make up the kernel (and why), the exact kernel K and Cov f_0 over the
distinct inputs, and — for the MSE loss — the exact mean and variance of every output f_t in
the limit (f_t is Gaussian there). ``--width N --seeds K`` also trains the real network per
seed and runs kernel GD from that seed's own f_0 (docs/regimes.md).
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from ..budget import default_memory_mb
from ..builders.mlp import BATCH_REDUCTIONS, LOSSES
from ..errors import ParametrizationError, TensorProgError
from ..parametrization import preset, preset_names
from ._output import matrix_rows, print_json
from .classify import _custom
from .mlp import parse_examples

#: Deepest network the parametrization commands accept (classify at this depth: ~3 s).
MAX_DEPTH = 10_000
#: Most seeds `regime --width` trains (each a whole SGD run of the real network).
MAX_SEEDS = 100_000


def add_parametrization_options(p: argparse.ArgumentParser) -> None:
    """--preset / --a --b --c / --var-exp --lr-exp / --name / --depth, as in `classify`."""
    p.add_argument("--preset", help=f"a named parametrization ({', '.join(preset_names())})")
    p.add_argument("--depth", type=int, help="L, the number of hidden layers")
    p.add_argument("--a", help="a_1..a_{L+1}, comma-separated (W^l = n^{-a_l} w^l)")
    p.add_argument("--b", help="b_1..b_{L+1}, comma-separated (w^l ~ N(0, n^{-2 b_l}))")
    p.add_argument("--c", help="c (learning rate η n^{-c})")
    p.add_argument("--var-exp", help="v_l with Var W^l_ij = n^{v_l} (with --lr-exp)")
    p.add_argument("--lr-exp", help="γ_l with learning rate of W^l = η n^{γ_l} (with --var-exp)")
    p.add_argument("--name", help="label for a --a/--b/--c parametrization")


def parametrization_from_args(args: argparse.Namespace):
    """The one parametrization the options describe."""
    custom = _custom(args)
    if args.preset and custom:
        raise ParametrizationError("give either --preset or explicit exponents, not both")
    if args.preset:
        if args.depth is None:
            raise ParametrizationError("--preset needs --depth", hint="e.g. --depth 2")
        if args.depth > MAX_DEPTH:
            raise ParametrizationError(
                f"--depth {args.depth:,} is more than {MAX_DEPTH:,}",
                hint="every command that reads --depth builds per-layer objects")
        return preset(args.preset, args.depth)
    if len(custom) != 1:
        raise ParametrizationError(
            "give one parametrization",
            hint="--preset NAME --depth L, or --a/--b/--c, or --var-exp/--lr-exp",
        )
    return custom[0]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``regime`` subcommand."""
    p = subparsers.add_parser(
        "regime",
        help="kernel-regime limit (TP4 Thm 3.8): which layers form the kernel, K, f_t",
        description="The infinite-width limit of SGD on an MLP in a stable, nontrivial "
        "abc-parametrization with r > 0 (NTP, SP with LR 1/n, ...): kernel gradient descent "
        "with the kernel of the contributing layers, from a Gaussian-process f_0. Exact for "
        "polynomial activations. A list that starts with '-' needs '=', e.g. --inputs=-1,1.",
    )
    add_parametrization_options(p)
    p.add_argument("--activation", required=True, help="φ in x, e.g. 'x/2 + x^2/4'")
    p.add_argument("--inputs", required=True, help="training inputs: '1,-1' or '1 0; 0 1'")
    p.add_argument("--targets", required=True, help="one target per input")
    p.add_argument("--lr", required=True, help="η, e.g. 1/2")
    p.add_argument("--eval-inputs", help="inputs where f is reported after training")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--batch-reduction", choices=BATCH_REDUCTIONS, default="sum")
    p.add_argument("--loss", choices=LOSSES, default="mse")
    p.add_argument("--weight-var", default="1", help="σ²: init std multiplier σ on every layer")
    p.add_argument("--lr-multipliers", help="L+1 learning-rate multipliers c_l")
    p.add_argument(
        "--allow-feature-learning",
        action="store_true",
        help="for r = 0: print the linearized (NOT the limit) kernel dynamics",
    )
    p.add_argument("--width", type=int, help="also train the real network at this width")
    p.add_argument("--seeds", type=int, default=8, help="seeds for --width (8)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _check_network_size(depth: int, n: int) -> None:
    """Refuse a real network that cannot fit: L − 1 hidden n × n matrices and a few dozen
    width-n vectors per layer, in float64."""
    mb = ((depth - 1) * n * n + 32 * depth * n) * 8 / 2**20
    limit = default_memory_mb()
    if mb > limit:
        raise TensorProgError(
            f"--width {n:,} needs ~{mb / 1024:,.1f} GiB for the real network; about "
            f"{limit / 1024:,.1f} GiB are available",
            hint="use a smaller --width (hidden matrices grow like width²)")


def run(args: argparse.Namespace) -> int:
    """Compute and print the kernel-regime limit."""
    from ..regimes import finite_width_comparison, kernel_regime_limit

    par = parametrization_from_args(args)
    d = 1
    inputs = parse_examples(args.inputs, "--inputs")
    if inputs and isinstance(inputs[0], list):
        d = len(inputs[0])
    evals = parse_examples(args.eval_inputs, "--eval-inputs", d) if args.eval_inputs else None
    targets = [s for s in args.targets.replace(",", " ").split()]
    lrm = args.lr_multipliers.replace(",", " ").split() if args.lr_multipliers else None
    from ..builders.mlp import read_number

    R = kernel_regime_limit(
        par, args.activation, inputs, targets, args.lr, loss=args.loss,
        batch_size=args.batch_size, batch_reduction=args.batch_reduction, eval_inputs=evals,
        weight_var=read_number(args.weight_var, "--weight-var"), lr_multipliers=lrm,
        allow_feature_learning=args.allow_feature_learning,
    )  # fmt: skip
    gauss = R.gaussian() if R.spec.loss == "mse" else None
    comparison = None
    if args.width is not None:
        if args.width < 1 or not 1 <= args.seeds <= MAX_SEEDS:
            raise TensorProgError(f"--width must be positive and --seeds between 1 and "
                                  f"{MAX_SEEDS:,}")
        _check_network_size(par.depth, args.width)
        comparison = finite_width_comparison(R, args.width, range(args.seeds))
    if args.json:
        out = R.to_dict()
        if gauss is not None:
            out["outputs"] = {
                k: {"mean": str(m), "var": None if v is None else str(v)}
                for k, (m, v) in gauss.items()
            }
        else:
            out["outputs"] = {k: str(v) for k, v in R.run().outputs().items()}
        if comparison is not None:
            dsc = comparison["discrepancy"]
            out["finite_width"] = {
                "width": args.width,
                "seeds": args.seeds,
                "discrepancy_per_seed": dsc.tolist(),
                "mean_discrepancy": float(dsc.mean()),
            }
        print_json(out)
        return 0
    k = R.classification
    L = R.parametrization.depth
    head = "Kernel-regime limit" if R.is_limit else "Linearized dynamics (NOT the limit: r = 0)"
    print(f"{head} of {R.parametrization}  (L = {L})")
    print(f"  regime: {k.regime}; r = {k.r}; r_l = {', '.join(str(x) for x in k.r_layers)}")
    print("Layers in the kernel (TP4 Eq. (9)):")
    if not R.layers:
        print("  none: f_t = f_0 (trivial parametrization)")
    for l in R.layers:
        print(f"  W^{l}: {R.reasons[l]}")
    print("Points: " + "; ".join(", ".join(str(v) for v in p) for p in R.points))
    print("K (exact):")
    print("\n".join(matrix_rows(R.kernel, "  [", "]")))
    print("Cov f_0 (exact; the NNGP when a_{L+1}+b_{L+1} = 1/2, else 0):")
    print("\n".join(matrix_rows(R.f0_cov, "  [", "]")))
    if gauss is not None:
        print("Outputs in the limit (Gaussian; exact mean and variance):")
        for name, (m, v) in gauss.items():
            vt = "" if v is None else f"  var {v} (≈ {float(v):.6g})"
            print(f"  {name}: mean {m} (≈ {float(m):.6g}){vt}")
    else:
        print("Outputs from f_0 = 0 (kernel GD):")
        for name, v in R.run().outputs().items():
            print(f"  {name}: {v}")
    if comparison is not None:
        dsc = comparison["discrepancy"]
        se = dsc.std(ddof=1) / math.sqrt(len(dsc)) if len(dsc) > 1 else float("nan")
        print(
            f"Finite width {args.width}, {args.seeds} seeds: max |f_finite − f_kernelGD| per "
            f"seed (kernel GD from the seed's own f_0): mean {dsc.mean():.4g} ± {se:.2g}; "
            f"√n · mean = {np.sqrt(args.width) * dsc.mean():.3g} (≈ constant if O(n^-1/2))"
        )
    return 0
