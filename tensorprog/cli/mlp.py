"""`tensorprog mlp`: build the Tensor Program of SGD on a μP MLP, derive its limit, optionally
emit it as `.tp` text and compare with the real network trained at a finite width.

    tensorprog mlp --depth 1 --activation "x^2" --inputs 1,1 --targets 1,1 --lr 1/50
    tensorprog mlp --depth 2 --activation x --inputs="1,-1,1" --targets="1,-1,1" --lr 1/10 \\
        --decoupled --emit sgd.tp --json
    tensorprog mlp --depth 2 --activation "tanh(x)" --inputs "1 0; 0 1" --targets 1,-1 \\
        --lr 1/2 --no-limit --width 1024 --seeds 10

Inputs: comma-separated numbers (d = 1), or examples separated by ';' with their coordinates
separated by spaces or commas (d > 1; a single such training example: '1 0 2;'). A list that
starts with '-' needs '=': --inputs=-1,1.
Numbers are exact: integers, fractions like 1/50, decimals like 0.02.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import sympy as sp

from ..backends.domains import number_text
from ..builders.mlp import BATCH_REDUCTIONS, LOSSES, build_program, mlp_spec
from ..errors import TensorProgError
from ..files import write_text
from ..lang import to_tp
from ..result import to_float
from ..zcalc import derive_limit
from . import _args as A
from ._budget import add_budget_options, budget_from_args
from ._output import number_items, print_json
from ._progress import add_progress_options, progress_from_args

_SHOW_DIGITS = 60


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``mlp`` subcommand."""
    p = subparsers.add_parser(
        "mlp",
        help="SGD on a μP MLP as a Tensor Program: limit, .tp text, finite-width check",
        description="Build the Tensor Program of SGD on an L-hidden-layer MLP in μP (TP4 "
        "Def. 5.1; conventions in docs/mlp.md), derive its exact infinite-width limit and "
        "print the outputs f_t, loss_t (f_t_i, loss_t_i with batches) and f_T_e. "
        "A list that starts with '-' needs '=', e.g. --inputs=-1,1.",
    )
    p.add_argument("--depth", type=int, required=True,
                   help=f"L, the number of hidden layers (1 to {A.MAX_DEPTH})")
    p.add_argument(
        "--activation", required=True, help="φ as an expression in x, e.g. 'x^2', 'tanh(x)'"
    )
    p.add_argument(
        "--inputs",
        required=True,
        help="training inputs in order: '1,-1,1' (d = 1) or '1 0 2; -1 1 0' (d = 3)",
    )
    p.add_argument("--targets", required=True, help="one target per input, comma-separated")
    p.add_argument("--lr", required=True, help="learning rate η, e.g. 1/50")
    p.add_argument("--batch-size", type=int, default=1, help="examples per SGD step (1)")
    p.add_argument(
        "--batch-reduction",
        choices=BATCH_REDUCTIONS,
        default="sum",
        help="sum (default, as Chen et al. App. B) or mean of the per-example gradients in a batch",
    )
    p.add_argument("--loss", choices=LOSSES, default="mse", help="mse ½(f−y)² or logistic")
    p.add_argument(
        "--decoupled",
        action="store_true",
        help="backprop through an independent copy of W₀ᵀ (TP4 §6.2)",
    )
    p.add_argument("--eval-inputs", help="inputs on which f is reported after training")
    p.add_argument(
        "--init-multipliers", help="L+1 init std multipliers (layers 1..L+1), comma-separated"
    )
    p.add_argument(
        "--lr-multipliers", help="L+1 learning-rate multipliers (layers 1..L+1), comma-separated"
    )
    p.add_argument("--emit", metavar="FILE.tp", help="write the program as .tp text")
    p.add_argument("--force", action="store_true", help="let --emit replace an existing file")
    p.add_argument("--no-limit", action="store_true", help="do not derive the limit")
    p.add_argument(
        "--mode",
        choices=("auto", "exact", "float", "numeric"),
        default="auto",
        help="limit engine: exact (polynomial φ), float (the exact algebra in float64, for long "
        "horizons), numeric (any φ, with error estimates), or auto (exact when possible; "
        "default)",
    )
    add_budget_options(p)
    add_progress_options(p)
    A.add_finite_width_options(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _numbers(text: str, what: str) -> list[str]:
    """Number texts separated by ',' and/or spaces; an empty item ('1,,2') is an error."""
    return [x for item in number_items(text, what) for x in item.split()]


def parse_examples(text: str, what: str, d: int = 1) -> list:
    """'1,-1,2' -> three scalar examples; '1 0; 0 1' -> two 2-vectors; with ``d`` > 1 a text
    without ';' is one d-vector (number text is kept; the spec reads it exactly)."""
    if ";" not in text and d > 1:
        return [_numbers(text, what)]
    if ";" in text:
        # a trailing ';' marks one row as a row ('1 1;'); empty rows elsewhere are errors
        body = text.rstrip()
        body = body[:-1] if body.endswith(";") and body[:-1].strip() else body
        return [_numbers(r, what) for r in number_items(body, what, sep=";")]
    return _numbers(text, what)


def _show(v: sp.Expr) -> str:
    if v.is_Rational:
        p, q = int(v.p), int(v.q)
        digits = (max(abs(p), q).bit_length() * 30103) // 100000 + 1
        if digits > _SHOW_DIGITS:
            return f"<exact rational, ~{digits} digits>"
        return str(v)
    s = sp.sstr(v)
    return s if len(s) <= _SHOW_DIGITS else s[: _SHOW_DIGITS - 3] + "..."


def run(args: argparse.Namespace) -> int:
    """Build, emit, derive, simulate, print."""
    if not hasattr(sys, "set_int_max_str_digits"):  # Python < 3.11 has no limit
        return _run(args)
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # exact limits can have many thousand digits
    try:
        return _run(args)
    finally:
        sys.set_int_max_str_digits(old)


def _run(args: argparse.Namespace) -> int:
    A.check_ints(args, depth=A.DEPTH, width=A.WIDTH, seeds=A.SEED_COUNT, seed=A.SEED)
    inputs = parse_examples(args.inputs, "--inputs")
    targets = _numbers(args.targets, "--targets")
    spec = _spec(args, inputs, targets)
    b = spec.batch_size
    A.check_program_size(
        lambda t: len(build_program(_spec(args, inputs[: t * b], targets[: t * b]))),
        spec.steps, f"{spec.steps:,} SGD steps at --depth {spec.depth}",
        hint="use fewer --inputs, a larger --batch-size or a smaller --depth")
    program = build_program(spec)
    report: dict = {"spec": spec.to_dict(), "nodes": len(program), "outputs": {}}
    if args.width:
        A.check_finite_run(program, args.width, args.seeds)
    rows = emit_and_derive(program, args, report)
    if args.width:
        sim = _simulate(spec, args.width, args.seeds, args.seed)
        report["width"], report["seeds"] = args.width, args.seeds
        for name, (m, se) in sim.items():
            rows[name].update(finite_mean=m, finite_stderr=se)
    report["outputs"] = rows
    if args.json:
        print_json(report)
    else:
        _print_table(spec, program, rows, report)
    return 0


def _spec(args: argparse.Namespace, inputs: list, targets: list):
    """The MLP spec of the command line, on these inputs and targets."""
    d = len(inputs[0]) if isinstance(inputs[0], list) else 1
    return mlp_spec(
        args.depth,
        args.activation,
        inputs,
        targets,
        args.lr,
        loss=args.loss,
        batch_size=args.batch_size,
        decoupled=args.decoupled,
        eval_inputs=parse_examples(args.eval_inputs, "--eval-inputs", d)
        if args.eval_inputs
        else None,
        batch_reduction=args.batch_reduction,
        init_multipliers=_numbers(args.init_multipliers, "--init-multipliers")
        if args.init_multipliers
        else None,
        lr_multipliers=_numbers(args.lr_multipliers, "--lr-multipliers")
        if args.lr_multipliers
        else None,
    )


def emit_and_derive(program, args: argparse.Namespace, report: dict) -> dict[str, dict]:
    """``--emit`` the program (never over an existing file without ``--force``) and, unless
    ``--no-limit``, derive its limit: one row per output (shared by ``mlp`` and ``train``)."""
    if args.emit:
        write_text(args.emit, to_tp(program), force=args.force, what="program file")
        report["emitted"] = args.emit
    rows: dict[str, dict] = {name: {} for name in program.outputs}
    if args.no_limit:
        return rows
    bar = progress_from_args(args)
    try:
        limit = derive_limit(program, mode=args.mode, progress=bar,
                             budget=budget_from_args(args))  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    report["limit_seconds"] = limit.seconds
    errors = getattr(limit, "errors", None) or {}
    for name, v in limit.outputs.items():
        rows[name].update(
            limit=number_text(v) if args.json else _show(v),
            limit_float=to_float(v),  # tiny exact values too (not float(v))
            exact=limit.is_exact(name),
            rational=bool(v.is_Rational),
        )
        if name in errors:
            rows[name]["limit_error"] = float(errors[name])
    return rows


def _simulate(spec, width: int, seeds: int, seed: int) -> dict[str, tuple[float, float]]:
    from ..training import train_mlp

    if seeds < 1:
        raise TensorProgError("--seeds must be >= 1")
    runs = [
        train_mlp(
            spec.depth,
            spec.activation,
            [list(ex) for ex in spec.inputs],
            list(spec.targets),
            spec.lr,
            width=width,
            seed=s,
            loss=spec.loss,
            batch_size=spec.batch_size,
            batch_reduction=spec.batch_reduction,
            decoupled=spec.decoupled,
            eval_inputs=[list(ex) for ex in spec.eval_inputs] or None,
            init_multipliers=list(spec.init_multipliers),
            lr_multipliers=list(spec.lr_multipliers),
        ).outputs()
        for s in range(seed, seed + seeds)
    ]
    out = {}
    for name in runs[0]:
        v = np.array([r[name] for r in runs])
        se = float(np.std(v, ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
        out[name] = (float(np.mean(v)), se)
    return out


def _print_table(spec, program, rows: dict, report: dict) -> None:
    kind = "decoupled " if spec.decoupled else ""
    print(
        f"μP MLP depth {spec.depth}, φ = {spec.activation}, d = {spec.d}, {spec.steps} "
        f"{kind}SGD steps (batch {spec.batch_size}, {spec.batch_reduction}), η = {spec.lr}, "
        f"loss {spec.loss}: {report['nodes']} program nodes"
    )
    print_rows(rows, report)


def print_rows(rows: dict, report: dict) -> None:
    """The emitted file and derivation time, then one line per output: limit (exact / inexact
    / numeric ± error) and finite width."""
    if "emitted" in report:
        print(f"wrote {report['emitted']}")
    if "limit_seconds" in report:
        print(f"limit derived in {report['limit_seconds']:.2f} s")
    for name, r in rows.items():
        parts = [f"{name:>10}"]
        if "limit" in r:
            fl = r["limit_float"]
            parts.append(f"limit {r['limit']}")
            numeric = "limit_error" in r
            if fl is not None and not numeric and not r["limit"].lstrip("-").isdigit():
                parts.append(f"≈ {fl:.10g}")
            if numeric:
                parts.append(f"± {r['limit_error']:.2g} (numeric)")
            elif not r["exact"]:
                parts.append("(inexact)")
            elif not r["rational"]:
                parts.append("(exact, not rational)")
        if "finite_mean" in r:
            parts.append(
                f"| width {report['width']}: {r['finite_mean']:.6g} ± {r['finite_stderr']:.2g}"
            )
        print("  ".join(parts))
