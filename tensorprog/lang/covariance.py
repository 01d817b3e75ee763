"""Exact positive-semidefiniteness test for the covariance of initial vectors (TP4 Setup 7.2
needs a genuine Gaussian), with a reason that names the offending vector."""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from .printer import show

_FLOAT_TOL = 1e-12


def _sign(x: sp.Expr, scale: float) -> int:
    """-1, 0 or 1. Exact for rationals/algebraics; floats within a relative tolerance are 0."""
    if x.has(sp.Float):
        v = float(x)
        if abs(v) <= _FLOAT_TOL * scale:
            return 0
        return 1 if v > 0 else -1
    if x.is_zero:
        return 0
    if x.is_positive:
        return 1
    if x.is_negative:
        return -1
    try:  # undecided by sympy's assumptions: decide numerically, or give up
        v = float(x.evalf(30, strict=True))
    except (sp.core.evalf.PrecisionExhausted, TypeError, ValueError):
        raise _Undecided(x) from None
    return 0 if v == 0 else (1 if v > 0 else -1)


class _Undecided(Exception):
    def __init__(self, x: sp.Expr) -> None:
        self.x = x


def psd_violation(names: Sequence[str], cov: Sequence[Sequence[sp.Expr]]) -> str | None:
    """None if the symmetric matrix ``cov`` is positive semidefinite, else why not.

    Symmetric Gaussian elimination without pivoting: pivot i is the variance of vector i left
    after regressing out the earlier ones (a Schur complement). A PSD matrix has no negative
    pivot, and a zero pivot forces the rest of its row to be zero.
    """
    try:
        return _violation(names, cov)
    except _Undecided as e:
        return f"cannot decide the sign of {show(e.x)}; use rational entries"


def _violation(names: Sequence[str], cov: Sequence[Sequence[sp.Expr]]) -> str | None:
    k = len(names)
    M = [list(row) for row in cov]
    scale = max([1.0] + [abs(float(M[i][i])) for i in range(k)])
    for i in range(k):
        d = M[i][i]
        s = _sign(d, scale)
        earlier = "the earlier vectors" if i else "nothing"
        if s < 0:
            if i == 0:
                return f"the variance of '{names[0]}' is {show(d)} < 0"
            return (
                f"the variance of '{names[i]}' left after accounting for {earlier} "
                f"({', '.join(names[:i])}) would be {show(d)} < 0"
            )
        if s == 0:
            for j in range(i + 1, k):
                if _sign(M[i][j], scale) != 0:
                    return (
                        f"'{names[i]}' is fully determined by "
                        f"{', '.join(names[:i]) or 'nothing (variance 0)'}, yet its "
                        f"remaining covariance with '{names[j]}' is {show(M[i][j])}, not 0"
                    )
            continue
        for r in range(i + 1, k):
            f = M[r][i] / d
            if f == 0:
                continue
            for c in range(i + 1, k):
                M[r][c] = M[r][c] - f * M[i][c]
    return None
