"""`tensorprog features`: feature-learning diagnostics in the infinite-width limit (Chen et al. §1).

    tensorprog features --table                         # Chen et al. Table 1, computed in the limit
    tensorprog features --preset mup --depth 2          # per-layer change, Grams, λ_min
    tensorprog features --preset ip --depth 2 --kind x --json

Defaults (all overridable): depth 2, φ = x/2 + x²/4 (the degree-2 Taylor polynomial of Chen et al.'s
SiLU), SGD (batch 1, MSE) on ξ = (1,0) → 1, (0,1) → −1 with η = 1/2, probes (1,0), (0,1), (1,1).
"""

from __future__ import annotations

import argparse

import sympy as sp

from ..errors import TensorProgError
from ..result import approx_text, exact_text
from ._budget import add_budget_options, budget_from_args
from ._output import print_json
from ._progress import add_progress_options, progress_from_args
from .mlp import parse_examples
from .regime import add_parametrization_options, parametrization_from_args

DEFAULTS = {
    "depth": 2,
    "activation": "x/2 + x^2/4",
    "inputs": "1 0; 0 1",
    "targets": "1,-1",
    "lr": "1/2",
    "probes": "1 0; 0 1; 1 1",
}
TABLE_ROWS = ("sp_lr_1/n", "ntp", "ip", "mup")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``features`` subcommand."""
    p = subparsers.add_parser(
        "features",
        help="feature-learning diagnostics in the limit; --table prints Chen et al.'s Table 1",
        description="Feature change E[(ΔZ^h)²]/E[(Z^h_0)²], feature Gram matrices and their "
        "exact minimum eigenvalues, per hidden layer, in the infinite-width limit after SGD "
        "(Chen et al., arXiv:2503.09565, §1, Figs. 1-2, Table 1). μP and IP are derived from "
        "their Tensor Programs; kernel-regime parametrizations use TP4 Thms 3.6/3.8 (no feature "
        "change). References: docs/references.md.",
    )
    p.add_argument("--table", action="store_true", help="Chen et al. Table 1 for SP, NTP, IP, μP")
    add_parametrization_options(p)
    p.add_argument("--activation", default=DEFAULTS["activation"], help="φ in x")
    p.add_argument("--inputs", default=DEFAULTS["inputs"], help="training inputs")
    p.add_argument("--targets", default=DEFAULTS["targets"], help="one target per input")
    p.add_argument("--lr", default=DEFAULTS["lr"], help="η")
    p.add_argument("--probes", default=DEFAULTS["probes"], help="probe inputs ξ_1..ξ_k")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--kind", choices=("h", "x"), default="h",
                   help="preactivations h (as Chen et al.) or activations x")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_budget_options(p)
    add_progress_options(p)
    p.set_defaults(func=run)


def _data(args: argparse.Namespace):
    inputs = parse_examples(args.inputs, "--inputs")
    d = len(inputs[0]) if inputs and isinstance(inputs[0], list) else 1
    probes = parse_examples(args.probes, "--probes", d)
    targets = args.targets.replace(",", " ").split()
    return inputs, targets, probes


def _num_text(v: sp.Expr, digits: int = 4) -> str:
    """A short decimal for any real sympy number, also past float range and past CPython's
    4300-digit int→str limit (a huge learning rate gives both)."""
    if v.is_Integer and abs(v) < 10**12:
        return str(v)
    return approx_text(v, digits)  # adaptive precision: 1/10^400 is not 0


def _ratio_text(v: sp.Expr) -> str:
    if v is sp.nan:
        return "0/0"
    if v.is_infinite:
        return "∞ (h_0 = 0)"
    return _num_text(v)


def _eig_text(e) -> str:
    if e.is_zero:
        return "0 (exact)"
    lo = e.interval[0]
    return _num_text((e.interval[0] + e.interval[1]) / 2, 6) + (
        " (> 0 certified)" if lo > 0 else ""
    )


def run(args: argparse.Namespace) -> int:
    """Compute and print the diagnostics (errors name the option, not the API argument)."""
    try:
        return _run(args)
    except TensorProgError as e:
        if "probe_inputs" in e.message:
            e.message = e.message.replace("probe_inputs", "--probes")
        raise


def _run(args: argparse.Namespace) -> int:
    from ..features import feature_limit

    inputs, targets, probes = _data(args)
    depth = DEFAULTS["depth"] if args.depth is None else args.depth
    bar = progress_from_args(args)
    common = dict(kind=args.kind, batch_size=args.batch_size,
                  derive_options={"budget": budget_from_args(args), "progress": bar})
    try:
        if args.table:
            diags = [
                feature_limit(name, depth, args.activation, inputs, targets, args.lr, probes,
                              **common)  # fmt: skip
                for name in TABLE_ROWS
            ]
        else:
            if args.depth is None:
                args.depth = depth
            par = parametrization_from_args(args)
            diags = [feature_limit(par, par.depth, args.activation, inputs, targets, args.lr,
                                   probes, **common)]  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print_json({"diagnostics": [D.to_dict() for D in diags]})
        return 0
    if args.table:
        _print_table(diags, args, depth)
    else:
        _print_details(diags[0])
    return 0


def _print_table(diags, args: argparse.Namespace, depth: int) -> None:
    from ..features import TABLE1_PAPER

    k = len(diags[0].probes)
    L = depth
    print(
        f"Chen et al. Table 1 in the infinite-width limit: L = {L}, φ = {args.activation}, "
        f"inputs {args.inputs} → {args.targets}, η = {args.lr}, features {args.kind}^l at "
        f"{k} probes ({args.probes})"
    )
    head = ["Parametrization", "Feature Learning", "Feature Richness",
            f"change {args.kind}^1..{args.kind}^{L} (probe 1)",
            f"λ_min Gram {args.kind}^{L} final", f"λ_min joint {args.kind}^{L}", "how",
            "Chen et al. Table 1"]  # fmt: skip
    rows = []
    for D in diags:
        label, fl, rich = TABLE1_PAPER[D.name]
        lf = D.layers[L]
        change = ", ".join(_ratio_text(D.layers[l].change[0]) for l in range(1, L + 1))
        rows.append([
            label, "✓" if D.feature_learning else "✗", "Rich" if D.rich else "Low", change,
            _eig_text(lf.eig_final), _eig_text(lf.eig_joint), D.method, f"{fl} {rich}",
        ])  # fmt: skip
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print()
    print("Feature Learning: some layer's limit features move, E[(Z^{z_T} − Z^{z_0})²] > 0.")
    print(f"Feature Richness: the final {args.kind}^{L} Gram over the probes is nonsingular "
          "(λ_min > 0, certified by exact root isolation); Low = singular (collapse).")  # fmt: skip
    print("SP here is TP4's 'SP with LR 1/n' (= Chen et al. Table 2's SP; plain SP is unstable).")
    for D in diags:
        for note in D.notes:
            print(f"[{D.name}] {note}")


def _print_details(D) -> None:
    print(f"{D.parametrization} (L = {D.depth}); method: {D.method}")
    print("probes: " + "; ".join(", ".join(str(v) for v in p) for p in D.probes))
    for note in D.notes:
        print(f"  note: {note}")
    for l, lf in D.layers.items():
        print(f"layer {l} ({D.kind}^{l}):")
        for j, (num, den, r) in enumerate(zip(lf.change_num, lf.change_den, lf.change)):
            print(f"  probe {j + 1}: E[(Δ)²] = {_short(num)}, E[z_0²] = {_short(den)}, "
                  f"change = {_ratio_text(r)}")  # fmt: skip
        for what, e in (("init", lf.eig_init), ("final", lf.eig_final),
                        ("joint (init, final)", lf.eig_joint)):  # fmt: skip
            print(f"  λ_min Gram {what}: {_eig_text(e)}; exact {_short(e.exact)}")
    print(f"feature learning: {'yes' if D.feature_learning else 'no'}; "
          f"rich (layer {D.depth}): {'yes' if D.rich else 'no'}")  # fmt: skip


def _short(v: sp.Expr, limit: int = 70) -> str:
    try:
        s = str(v)
    except ValueError:  # a rational past the 4300-digit int→str limit
        s = None
    if s is not None and len(s) <= limit:
        return s
    if v.is_Rational:
        return f"{_num_text(v, 6)} (exact: {len(exact_text(v))} chars)"
    return f"{_num_text(v, 6)} (exact: algebraic, in --json)"
