"""Folding a program expression (a sympy tree over node symbols) into another algebra.

Interpreters over the IR evaluate expressions in different algebras: numpy arrays (finite width),
polynomials in Gaussian innovations (exact limits), sympy expressions (symbolic Z). Each supplies
how to read a symbol and how to apply a whitelisted function; ``fold`` does the tree walk, with a
memo so that shared subtrees are evaluated once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy as sp

from .functions import SYMPY_HEADS


class Algebra:
    """How to build values of one interpretation. Subclasses override what they support."""

    def symbol(self, s: sp.Symbol) -> Any:
        raise NotImplementedError

    def constant(self, c: sp.Expr) -> Any:
        """A subtree with no free symbols, given as an exact sympy number expression."""
        raise NotImplementedError

    def add(self, a: Any, b: Any) -> Any:
        return a + b

    def mul(self, a: Any, b: Any) -> Any:
        return a * b

    def power(self, base: Any, exponent: sp.Expr, node: sp.Expr) -> Any:
        raise NotImplementedError

    def function(self, name: str, args: list[Any], node: sp.Expr) -> Any:
        raise NotImplementedError

    def other(self, node: sp.Expr, args: list[Any]) -> Any:
        raise TypeError(f"unsupported expression {node.func.__name__}")

    def is_leafish(self, node: sp.Expr) -> bool:
        """Subtrees to hand to ``constant`` whole (default: no free symbols)."""
        return not node.free_symbols


def fold(expr: sp.Expr, algebra: Algebra, memo: dict | None = None) -> Any:
    """Evaluate ``expr`` bottom-up in ``algebra``."""
    if memo is None:
        memo = {}
    return _fold(expr, algebra, memo)


def _fold(e: sp.Expr, alg: Algebra, memo: dict) -> Any:
    hit = memo.get(e)
    if hit is not None:
        return hit
    if alg.is_leafish(e):
        out = alg.constant(e)
    elif e.is_Symbol:
        out = alg.symbol(e)
    elif e.is_Add:
        terms = [_fold(a, alg, memo) for a in e.args]
        out = terms[0]
        for t in terms[1:]:
            out = alg.add(out, t)
    elif e.is_Mul:
        factors = [_fold(a, alg, memo) for a in e.args]
        out = factors[0]
        for f in factors[1:]:
            out = alg.mul(out, f)
    elif e.is_Pow:
        out = alg.power(_fold(e.base, alg, memo), e.exp, e)
    elif e.func in SYMPY_HEADS:
        out = alg.function(SYMPY_HEADS[e.func], [_fold(a, alg, memo) for a in e.args], e)
    else:
        out = alg.other(e, [_fold(a, alg, memo) for a in e.args])
    memo[e] = out
    return out


def substitute(expr: sp.Expr, values: dict[sp.Symbol, Any]) -> sp.Expr:
    """``expr`` with symbols replaced (xreplace: structural, no evaluation of user text)."""
    return expr.xreplace(values)


def vector_free(expr: sp.Expr, is_vector: Callable[[sp.Symbol], bool]) -> bool:
    return not any(is_vector(s) for s in expr.free_symbols)
