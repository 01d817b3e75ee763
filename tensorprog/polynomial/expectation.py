"""Exact Gaussian expectations of polynomial Z's (ZMoment, and E[Z^x Z^y] for ZHat).

Two routes (docs/engine.md): "innovations" -- the backend's own expectation over the independent
LDLᵀ innovations; "isserlis" -- Wick pairings of the atoms, memoized by exponent vector.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from ..gaussian import Isserlis
from .atoms import Atoms
from .convert import Converter, Evaluator


class Expectation:
    """E[p] and E[p q] over the backend's polynomials."""

    def __init__(self, backend: Any, route: str, atoms: Atoms) -> None:
        self.B = backend
        self.K = backend.K
        self.route = route
        self.isserlis = Isserlis(self.K, atoms.cov)

    def expect(self, p: Any) -> Any:
        if self.route == "innovations":
            return self.B.expect(p)
        return self._isserlis(p)

    def inner(self, p: Any, q: Any) -> Any:
        """E[p q] (the backend may avoid forming p q)."""
        if self.route == "innovations":
            return self.B.inner(p, q)
        return self._isserlis(self.B.mul(p, q))

    def _isserlis(self, p: Any) -> Any:
        total = self.K.zero
        for monom, coeff in self.B.terms(p):
            m = self.isserlis.monomial(tuple(monom))
            if m:
                total += coeff * m
        return total


def moment(E: Expectation, conv: Converter, e: sp.Expr, ev: Evaluator) -> Any:
    """E[e] using linearity: sums split, and a product of two vector-dependent factors (or an
    even power) becomes an inner product E[p q] computed without forming p q."""
    K, B = conv.K, conv.B
    if e.is_Add:
        total = K.zero
        for a in e.args:
            total = total + moment(E, conv, a, ev)
        return total
    if e.is_Mul:
        c = K.one
        vecs = []
        for a in e.args:
            isv, v = ev.ev(a) if not (a.is_Add or a.is_Pow) else (None, None)
            if isv is None:
                isv = any(ev.is_var(s) for s in a.free_symbols)
                v = None if isv else ev.ev(a)[1]
            if isv:
                vecs.append((a, v))
            else:
                c = c * v
        if not vecs:
            return c
        if len(vecs) == 1:
            a, v = vecs[0]
            val = moment(E, conv, a, ev) if v is None else E.expect(v)
        else:
            h = len(vecs) // 2
            val = E.inner(_product(B, vecs[:h], ev), _product(B, vecs[h:], ev))
        return val if c == K.one else c * val
    if e.is_Pow and e.exp.is_Integer and e.exp >= 2:
        isv, b = ev.ev(e.base)
        if not isv:
            return ev.ev(e)[1]
        n = int(e.exp)
        k = n // 2
        conv.check_power(b, k, ev.node)
        bk = b**k
        return E.inner(bk, bk if n == 2 * k else B.mul(bk, b))
    isv, v = ev.ev(e)
    return E.expect(v) if isv else v


def _product(B: Any, factors: list[tuple[sp.Expr, Any]], ev: Evaluator) -> Any:
    out = None
    for a, v in factors:
        v = ev.poly(a) if v is None else v
        out = v if out is None else B.mul(out, v)
    return out
