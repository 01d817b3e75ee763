"""Shared formatting for the `derive`, `simulate` and `check` commands: aligned tables, exact
numbers as text (no CPython 4300-digit limit), floats, LaTeX."""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Sequence
from typing import Any

import gmpy2
import sympy as sp

from ..errors import TensorProgError
from ..ir import Program
from ..lang import expr_to_tp, load

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
    "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega",
}  # fmt: skip


def load_program(path: str) -> Program:
    """The Program in a `.tp` file (errors are TensorProgErrors with file:line:col)."""
    return load(path)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned text table (numbers right-aligned when a column looks numeric)."""
    cols = list(zip(headers, *rows)) if rows else [(h,) for h in headers]
    widths = [max(len(str(c)) for c in col) for col in cols]
    numeric = [all(_looks_numeric(r[i]) for r in rows) if rows else False
               for i in range(len(headers))]  # fmt: skip

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, c in enumerate(cells):
            out.append(str(c).rjust(widths[i]) if numeric[i] else str(c).ljust(widths[i]))
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def _looks_numeric(s: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[0-9./e+\- ±]+|nan|n/a", str(s)))


def exact_text(v: sp.Expr) -> str:
    """``p/q`` for rationals, `.tp` syntax for other expressions (sympy's text for anything
    outside the language, e.g. pi in a numeric result)."""
    try:
        return expr_to_tp(v)
    except TensorProgError:
        try:
            return str(v)
        except ValueError:  # CPython's int->str digit limit
            return f"<{type(v).__name__} too large to print>"


def abbreviate(text: str, limit: int) -> str:
    """Shorten very long exact values for tables (the full value is in --json / --full)."""
    if limit <= 0 or len(text) <= limit:
        return text
    keep = max(limit // 2 - 8, 4)
    return f"{text[:keep]}...{text[-keep:]} ({len(text)} chars)"


def to_float(v: sp.Expr) -> float | None:
    """A float approximation, or None if it does not fit in a double / is not a number."""
    try:
        if isinstance(v, sp.Rational):
            f = float(gmpy2.mpq(int(v.p), int(v.q)))
        else:
            f = float(sp.N(v, 17))
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def float_text(v: sp.Expr, digits: int = 10) -> str:
    f = to_float(v)
    if f is not None:
        return f"{f:.{digits}g}"
    try:
        return str(sp.N(v, digits))
    except (TypeError, ValueError):
        return "n/a"


def latex_name(name: str) -> str:
    """f0 -> f_{0}, chi0 -> \\chi_{0}, nV1 -> \\mathrm{nV}_{1}, x_hat -> x_{hat}."""
    m = re.fullmatch(r"([A-Za-z]+?)_?([0-9]+|_[A-Za-z0-9_]+)?", name)
    if m is None:
        base, sub = name, None
    else:
        base, sub = m.group(1), m.group(2)
    if sub is not None and sub.startswith("_"):
        sub = sub[1:]
    if base in GREEK:
        head = "\\" + base
    elif len(base) == 1:
        head = base
    else:
        head = "\\mathrm{" + base.replace("_", "\\_") + "}"
    return head if not sub else f"{head}_{{{sub.replace('_', chr(92) + '_')}}}"


def latex_value(v: sp.Expr) -> str:
    """LaTeX of an exact value; rationals as \\frac with digits of any length."""
    if isinstance(v, sp.Rational):
        p, q = int(v.p), int(v.q)
        sign = "-" if p < 0 else ""
        ps, qs = gmpy2.mpz(abs(p)).digits(), gmpy2.mpz(q).digits()
        return f"{sign}{ps}" if q == 1 else f"{sign}\\frac{{{ps}}}{{{qs}}}"
    if isinstance(v, sp.Float):
        return float_text(v, 15)
    try:
        return sp.latex(v)
    except (TypeError, ValueError):
        return "\\text{" + exact_text(v) + "}"


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def check_positive(value: int, option: str) -> None:
    if value < 1:
        raise TensorProgError(f"{option} must be at least 1, got {value}")
