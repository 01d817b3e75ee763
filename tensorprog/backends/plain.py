"""The plain backend: sympy's sparse polynomial rings over QQ / RR / EX.

This is the engine's original algebra, kept as the reference route: exact results of the fast
backends are tested to be identical to it, and it is the only backend for irrational constants
(domain EX, e.g. exp(1/3) as a coefficient).
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.polys.rings import ring

from ..gaussian import MomentTable, expect_innovations
from .base import PolyStats, digits_of_rational


class PlainBackend:
    """Polynomials in generators u0 … u_{n-1} over a sympy domain (QQ, RR or EX)."""

    name = "plain"
    representation = "sympy-ring"

    def __init__(self, n: int, domain: Any) -> None:
        self.K = domain
        self.exact = not domain.is_RR
        self.R, *self.gens = ring([f"u{k}" for k in range(max(n, 1))], domain)
        self.pivots: dict[int, Any] = {}
        self.moments = MomentTable(domain, lambda k: self.pivots[k])

    # ----------------------------------------------------------------- construction
    @property
    def zero(self) -> Any:
        return self.R.zero

    def const(self, c: Any) -> Any:
        return self.R.ground_new(c)

    def gen(self, k: int) -> Any:
        return self.gens[k]

    def linear(self, coefs: dict[int, Any]) -> Any:
        return sum((self.R.ground_new(c) * self.gens[j] for j, c in coefs.items()), self.R.zero)

    def scale(self, p: Any, c: Any) -> Any:
        return self.R.ground_new(c) * p

    def set_pivot(self, k: int, d: Any) -> None:
        self.pivots[k] = d

    # ----------------------------------------------------------------- expectations
    def expect(self, p: Any) -> Any:
        return expect_innovations(p, self.moments)

    def inner(self, p: Any, q: Any) -> Any:
        return expect_innovations(p * q, self.moments)

    def terms(self, p: Any):
        return p.terms()

    def mul(self, p: Any, q: Any) -> Any:
        return p * q

    # ----------------------------------------------------------------- reading
    def to_sympy(self, p: Any) -> sp.Expr:
        return p.as_expr()

    def substitute_linear(self, p: Any, images: dict[int, Any]) -> Any:
        subs = [(self.gens[k], v) for k, v in images.items()]
        return p.compose(subs) if subs else p

    def stats(self, p: Any) -> PolyStats:
        terms = len(p)
        degree = max((sum(m) for m in p.keys()), default=0)
        digits = 0
        if self.K.is_QQ:
            for c in p.values():
                digits = max(digits, digits_of_rational(int(c.numerator), int(c.denominator)))
        return PolyStats(terms, digits, degree)
