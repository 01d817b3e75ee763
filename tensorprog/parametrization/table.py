"""Plain-text table of classifications, laid out like TP4 Table 1 (one column per
parametrization, one row per property), followed by each column's violated inequalities."""

from __future__ import annotations

from collections.abc import Sequence

from .classify import Classification
from .exact import fmt

_MARKS = {"unicode": ("✓", "✗", "—"), "ascii": ("yes", "no", "n/a")}


def _rats(xs) -> str:
    return ", ".join(fmt(x) for x in xs)


def _rows(k: Classification, yes: str, no: str, na: str) -> list[str]:
    p = k.parametrization
    L = k.depth

    def mark(v: bool | None) -> str:
        return na if v is None else (yes if v else no)

    def layers(ls: Sequence[int] | None) -> str:
        if ls is None:
            return na
        return ", ".join(f"W^{l}" for l in ls) if ls else "none"

    features = na if k.feature_layers is None else (
        ", ".join(f"x^{l}" for l in k.feature_layers) or "none"
    )
    updated = None
    if k.updated_maximally is not None:
        updated = [l for l, u in enumerate(k.updated_maximally, start=1) if u]
    initialized = na if k.initialized_maximally is None else (
        f"W^{L + 1} {yes}" if k.initialized_maximally else f"W^{L + 1} {no}"
    )
    q = k.canonical
    return [
        _rats(p.a),
        _rats(p.b),
        fmt(p.c),
        fmt(k.r),
        fmt(k.last_update_exponent),
        fmt(k.last_init_exponent),
        _rats(k.r_layers),
        mark(k.nontrivial),
        mark(k.stable),
        mark(k.feature_learning),
        mark(k.kernel_regime),
        k.regime,
        features,
        layers(updated),
        initialized,
        mark(k.logits_vanish_at_init),
        na if k.min_stable_c is None else fmt(k.min_stable_c),
        f"a = ({_rats(q.a)}); b = ({_rats(q.b)})",
        ", ".join(k.equivalent_presets) or "none",
    ]


_LABELS = [
    ("a_l", "W^l = n^{-a_l} w^l"),
    ("b_l", "w^l ~ N(0, n^{-2 b_l})"),
    ("c", "LR = η n^{-c}"),
    ("r", "Definition 3.2"),
    ("2a_{L+1} + c", "Thm 3.3 Eq. (8)"),
    ("a_{L+1} + b_{L+1} + r", "Thm 3.3 Eq. (8)"),
    ("r_l (l = 1..L)", "Proposition 5.3"),
    ("Nontrivial?", "Theorem 3.4"),
    ("Stable?", "Theorem 3.3"),
    ("Feature Learning?", "Theorem 3.6 (r = 0)"),
    ("Kernel Regime?", "Theorem 3.8 (r > 0)"),
    ("Regime", "Corollary 3.9"),
    ("Features moving", "Δx^l = Θ(1) iff min_{m≤l} r_m = 0"),
    ("Updated maximally", "Prop. 5.3 (r_l = 0), 5.5"),
    ("Initialized maximally", "Proposition 5.5"),
    ("f_0 → 0 at init?", "a_{L+1} + b_{L+1} > 1/2"),
    ("Least stable c", "Table 1 caption"),
    ("Canonical (c = 0)", "Eq. (5), θ = c/2"),
    ("Equivalent presets", "Eq. (5)"),
]


def _title(k: Classification, index: int) -> str:
    name = k.parametrization.name or f"#{index + 1}"
    return f"{name} (L = {k.depth})"


def format_table(classifications: Sequence[Classification], *, ascii_only: bool = False) -> str:
    """Render classifications as a TP4-Table-1-style text table plus violation lists."""
    yes, no, na = _MARKS["ascii" if ascii_only else "unicode"]
    header = ["", "Definition"] + [_title(k, i) for i, k in enumerate(classifications)]
    cols = [_rows(k, yes, no, na) for k in classifications]
    body = [[label, ref] + [col[i] for col in cols] for i, (label, ref) in enumerate(_LABELS)]
    if ascii_only:  # before measuring, so the columns stay aligned
        header = [cell.translate(_ASCII) for cell in header]
        body = [[cell.translate(_ASCII) for cell in row] for row in body]
    widths = [max(len(row[j]) for row in [header] + body) for j in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()

    out = [line(header), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in body]
    for i, k in enumerate(classifications):
        if k.violations:
            out.append("")
            out.append(f"{_title(k, i)} violates (Theorem 3.3):")
            out += [f"  - {v}" for v in k.violations]
    text = "\n".join(out)
    return text.translate(_ASCII) if ascii_only else text


_ASCII = str.maketrans({"η": "eta", "Θ": "Theta", "Δ": "Delta_", "θ": "theta", "ξ": "xi", "≤": "<=",
                        "→": "->", "—": "-", "✓": "yes", "✗": "no"})  # fmt: skip
