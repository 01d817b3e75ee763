"""Symbolic Z: Z^x unwound into the atom symbols as a sympy expression (for reports, and for the
"derivative" route of ZDot, which differentiates Z^x by the atoms, TP4 Eq. 31)."""

from __future__ import annotations

from typing import Any

import sympy as sp

from ..ir import sym
from .scalars import Scalars


class SymbolicZ:
    """How each Z was built, and its unwound expression on demand (memoized)."""

    def __init__(self, K: Any, scalars: Scalars) -> None:
        self.K = K
        self.scalars = scalars
        self.how: dict[str, tuple] = {}
        self._expr: dict[str, sp.Expr] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.how

    def atom(self, name: str, symbol: sp.Symbol) -> None:
        self.how[name] = ("atom", symbol)

    def nonlin(self, name: str, expr: sp.Expr) -> None:
        self.how[name] = ("nonlin", expr)

    def matmul(self, name: str, symbol: sp.Symbol, dot: list[tuple[str, Any]]) -> None:
        self.how[name] = ("matmul", symbol, dot)

    def __call__(self, name: str) -> sp.Expr:
        """Z^name in the atom symbols."""
        hit = self._expr.get(name)
        if hit is not None:
            return hit
        d = self.how[name]
        if d[0] == "atom":
            out = d[1]
        elif d[0] == "nonlin":
            subs = {sym(s.name): self(s.name) for s in d[1].free_symbols if s.name in self.how}
            subs.update(self.scalars.subs)
            out = d[1].xreplace(subs)
        else:
            _, atom, dot = d
            out = atom + sp.Add(*[self.K.to_sympy(c) * self(y) for y, c in dot])
        self._expr[name] = out
        return out
