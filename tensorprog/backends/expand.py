"""The literal backend: sympy expressions multiplied out with ``sympy.expand``.

This is the textbook route (sympy expand + Isserlis; minutes for f₅ of the depth-1 μP x²
network) and the benchmarks' baseline; it shares nothing with the ring-based
backends but the engine, so agreement with them is a real cross-check. Too slow for real use.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from ..gaussian import MomentTable
from .base import PolyStats, digits_of_rational


class ExpandBackend:
    """Polynomials in generators u0 … u_{n-1} as expanded sympy expressions over QQ."""

    name = "expand"
    representation = "sympy-expand"

    def __init__(self, n: int, domain: Any) -> None:
        self.K = domain
        self.exact = True
        self.gens = sp.symbols(f"u0:{max(n, 1)}", real=True)
        self._index = {g: k for k, g in enumerate(self.gens)}
        self.pivots: dict[int, Any] = {}
        self.moments = MomentTable(domain, lambda k: self.pivots[k])

    zero = sp.Integer(0)

    def const(self, c: Any) -> sp.Expr:
        return self.K.to_sympy(c)

    def gen(self, k: int) -> sp.Expr:
        return self.gens[k]

    def linear(self, coefs: dict[int, Any]) -> sp.Expr:
        return sp.Add(*(self.K.to_sympy(c) * self.gens[j] for j, c in coefs.items()))

    def scale(self, p: sp.Expr, c: Any) -> sp.Expr:
        return sp.expand(self.K.to_sympy(c) * p)

    def mul(self, p: sp.Expr, q: sp.Expr) -> sp.Expr:
        return sp.expand(p * q)

    def set_pivot(self, k: int, d: Any) -> None:
        self.pivots[k] = d

    def terms(self, p: sp.Expr):
        """(exponent tuple, coefficient in K) of every monomial of the expanded ``p``."""
        n = len(self.gens)
        for mono, coeff in sp.expand(p).as_coefficients_dict().items():
            alpha = [0] * n
            c = coeff
            for base, e in mono.as_powers_dict().items():
                if base in self._index:
                    alpha[self._index[base]] += int(e)
                else:  # the monomial 1 carries a numeric factor
                    c = c * base**e
            yield tuple(alpha), self.K.from_sympy(c)

    def expect(self, p: sp.Expr) -> Any:
        total = self.K.zero
        for alpha, c in self.terms(p):
            if any(a % 2 for a in alpha):
                continue
            for k, a in enumerate(alpha):
                if a:
                    c = c * self.moments(k, a)
            total += c
        return total

    def inner(self, p: sp.Expr, q: sp.Expr) -> Any:
        return self.expect(self.mul(p, q))

    def to_sympy(self, p: sp.Expr) -> sp.Expr:
        return p

    def substitute_linear(self, p: sp.Expr, images: dict[int, sp.Expr]) -> sp.Expr:
        return sp.expand(p.xreplace({self.gens[k]: v for k, v in images.items()})) if images else p

    def stats(self, p: sp.Expr) -> PolyStats:
        terms, digits, degree = 0, 0, 0
        for alpha, c in self.terms(p):
            terms += 1
            degree = max(degree, sum(alpha))
            digits = max(digits, digits_of_rational(int(c.numerator), int(c.denominator)))
        return PolyStats(terms, digits, degree)
