"""Gaussian families and exact Gaussian moments (docs/engine.md).

A *family* is a set of jointly Gaussian atoms (the initial vectors, or the Ẑ^{W̄y} of one
matrix-with-orientation W̄, TP4 Def. 7.3 ZHat); different families are independent. Each family is
factored incrementally by a square-root-free LDLᵀ, so every atom is a combination of independent
*innovations* u_k ~ N(0, d_k), and a singular covariance simply yields zero pivots (fewer
innovations) instead of a failure.

Two exact expectation routes over polynomials:

* innovations: substitute atoms by innovations, then E[∏ u_k^{a_k}] = ∏ d_k^{a_k/2} (a_k - 1)!!;
* Isserlis/Wick: sum over pairings of the atoms' covariances, memoized by exponent vector.

Both work over any sympy domain (QQ exact, RR float, EX symbolic) and are tested to agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sympy as sp

from .backends.base import DFACT


def ldl_psd(
    C: Sequence[Sequence[sp.Expr]],
) -> tuple[list[dict[int, sp.Expr]], list[sp.Expr]]:
    """Square-root-free LDLᵀ of a symmetric PSD matrix of sympy numbers (possibly singular).

    Returns (L rows as {col: coef} with unit diagonal, pivots d). Raises ValueError naming the
    offending entry if C is not positive semidefinite.
    """
    n = len(C)
    L: list[dict[int, sp.Expr]] = []
    d: list[sp.Expr] = []
    for i in range(n):
        row: dict[int, sp.Expr] = {}
        for j in range(i):
            r = sp.S(C[i][j])
            for k in range(j):
                r -= row.get(k, 0) * L[j].get(k, 0) * d[k]
            if d[j] == 0:
                if _nonzero(r):
                    raise ValueError(
                        f"entry ({i + 1},{j + 1}) is incompatible with the zero variance left "
                        f"in direction {j + 1}"
                    )
                continue
            row[j] = r / d[j]
        row[i] = sp.S.One
        piv = sp.S(C[i][i]) - sum((row.get(k, 0) ** 2 * d[k] for k in range(i)), sp.S.Zero)
        if _negative(piv):
            raise ValueError(f"leading minor {i + 1} is negative")
        if not _nonzero(piv):
            piv = sp.S.Zero
        L.append(row)
        d.append(piv)
    return L, d


def _nonzero(x) -> bool:
    x = sp.S(x)
    if x.is_Float or x.has(sp.Float):
        return abs(float(x)) > 1e-12
    return bool(x != 0) if x.is_number else True


def _negative(x) -> bool:
    x = sp.S(x)
    if x.has(sp.Float):
        return float(x) < -1e-12
    return bool(x.is_negative)


class GaussianFamily:
    """A jointly Gaussian family of atoms, factored incrementally as atom_i = Σ_j L_ij u_j.

    Arithmetic is in ``domain`` (a sympy polys domain such as QQ); ``index`` is the global
    innovation/atom index, shared with the polynomial ring's generators.
    """

    def __init__(self, name: str, domain: Any) -> None:
        self.name = name
        self.K = domain
        self.members: list[int] = []
        self.L: dict[int, dict[int, Any]] = {}
        self.d: dict[int, Any] = {}
        self.cov: dict[tuple[int, int], Any] = {}

    def add(self, index: int, var: Any, cov_with: dict[int, Any]) -> None:
        """Append atom ``index`` with variance ``var`` and covariances ``cov_with[j]`` with
        earlier members (missing entries are 0)."""
        K = self.K
        row: dict[int, Any] = {}
        for j in self.members:
            r = cov_with.get(j, K.zero)
            for k, ljk in self.L[j].items():
                if k != j and k in row:
                    r -= row[k] * ljk * self.d[k]
            if self._is_zero(self.d[j]):
                if not self._is_zero(r, scale=var):
                    raise ArithmeticError(
                        f"family {self.name}: covariance is not positive semidefinite"
                    )
                continue
            if not self._is_zero(r):
                row[j] = r / self.d[j]
        piv = var
        for j, lij in row.items():
            piv -= lij * lij * self.d[j]
        if self._is_negative(piv, scale=var):
            raise ArithmeticError(f"family {self.name}: covariance is not positive semidefinite")
        if self._is_zero(piv, scale=var):
            piv = K.zero
        row[index] = K.one
        self.members.append(index)
        self.L[index] = row
        self.d[index] = piv
        self.cov[(index, index)] = var
        for j in self.members[:-1]:
            c = cov_with.get(j, K.zero)
            self.cov[(index, j)] = self.cov[(j, index)] = c

    def _is_zero(self, x: Any, scale: Any = None) -> bool:
        if self.K.is_RR:
            s = abs(float(scale)) if scale is not None else 1.0
            return abs(float(x)) <= 1e-11 * max(s, 1e-300)
        return not x

    def _is_negative(self, x: Any, scale: Any = None) -> bool:
        if self.K.is_EX:
            v = self.K.to_sympy(x)
            return bool(v.is_negative) and not self._is_zero(x)
        if self.K.is_RR:
            return float(x) < 0 and not self._is_zero(x, scale)
        return x < 0

    def linear_form(self, index: int) -> dict[int, Any]:
        """atom ``index`` as {innovation: coefficient}, zero-pivot innovations dropped."""
        return {j: c for j, c in self.L[index].items() if not self._is_zero(self.d[j])}

    def solve(self, b: dict[int, Any]) -> dict[int, Any]:
        """A solution c of G c = b (G the family covariance; b in its range), by the LDLᵀ
        factors with the pseudo-inverse of D. Used by the Stein route of ZDot."""
        K = self.K
        order = self.members
        y: dict[int, Any] = {}
        for i in order:  # L y = b
            s = b.get(i, K.zero)
            for j, lij in self.L[i].items():
                if j != i:
                    s -= lij * y[j]
            y[i] = s
        z = {i: (y[i] / self.d[i] if not self._is_zero(self.d[i]) else K.zero) for i in order}
        c: dict[int, Any] = {}
        for i in reversed(order):  # Lᵀ c = z
            s = z[i]
            for k in order:
                if k in c and i in self.L[k] and k != i:
                    s -= self.L[k][i] * c[k]
            c[i] = s
        return c


class MomentTable:
    """E[u_k^a] = d_k^{a/2} (a-1)!! for independent centred innovations u_k ~ N(0, d_k)."""

    def __init__(self, domain: Any, pivots: Callable[[int], Any]) -> None:
        self.K = domain
        self.pivot = pivots
        self._cache: dict[tuple[int, int], Any] = {}

    def __call__(self, k: int, a: int) -> Any:
        if a == 0:
            return self.K.one
        if a % 2:
            return self.K.zero
        key = (k, a)
        m = self._cache.get(key)
        if m is None:
            m = self.K.convert(DFACT(a)) * self.pivot(k) ** (a // 2)
            self._cache[key] = m
        return m


def expect_innovations(poly: Any, moments: MomentTable) -> Any:
    """E[poly] for a PolyElement in independent innovations (generator k = innovation k)."""
    K = moments.K
    total = K.zero
    for monom, coeff in poly.terms():
        term = coeff
        for k, a in enumerate(monom):
            if a:
                if a % 2:
                    term = K.zero
                    break
                term = term * moments(k, a)
        if term:
            total += term
    return total


class Isserlis:
    """E[poly] for a PolyElement in correlated atoms by Isserlis/Wick, memoized by exponents.

    ``cov(i, j)`` is the covariance of atoms i and j (0 across independent families).
    """

    def __init__(self, domain: Any, cov: Callable[[int, int], Any]) -> None:
        self.K = domain
        self.cov = cov
        self._memo: dict[tuple[int, ...], Any] = {}

    def monomial(self, alpha: tuple[int, ...]) -> Any:
        if sum(alpha) % 2:
            return self.K.zero
        hit = self._memo.get(alpha)
        if hit is not None:
            return hit
        i = next((k for k, a in enumerate(alpha) if a), None)
        if i is None:
            return self.K.one
        rest = list(alpha)
        rest[i] -= 1
        total = self.K.zero
        # Pair one copy of atom i with each remaining atom copy j.
        for j, a in enumerate(rest):
            if not a:
                continue
            c = self.cov(i, j)
            if not c:
                continue
            sub = list(rest)
            sub[j] -= 1
            total += self.K.convert(a) * c * self.monomial(tuple(sub))
        self._memo[alpha] = total
        return total

    def __call__(self, poly: Any) -> Any:
        total = self.K.zero
        for monom, coeff in poly.terms():
            m = self.monomial(tuple(monom))
            if m:
                total += coeff * m
        return total
