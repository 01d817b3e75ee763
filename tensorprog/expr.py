"""Folding a program expression (a sympy tree over node symbols) into another algebra.

Interpreters over the IR evaluate expressions in different algebras: numpy arrays (finite width),
polynomials in Gaussian innovations (exact limits), sympy expressions (symbolic Z). Each supplies
how to read a symbol and how to apply a whitelisted function; ``fold`` does the tree walk, with a
memo so that shared subtrees are evaluated once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


def _fold(root: sp.Expr, alg: Algebra, memo: dict) -> Any:
    """Post-order over an explicit stack: the depth of ``root`` costs heap, not Python stack."""
    stack: list[tuple[sp.Expr, bool]] = [(root, False)]
    while stack:
        e, ready = stack.pop()
        if ready:
            memo[e] = _apply(e, alg, memo)
        elif e in memo:
            continue
        elif alg.is_leafish(e):
            memo[e] = alg.constant(e)
        elif e.is_Symbol:
            memo[e] = alg.symbol(e)
        else:
            stack.append((e, True))
            kids = (e.base,) if e.is_Pow else e.args
            stack.extend((a, False) for a in reversed(kids) if a not in memo)
    return memo[root]


def _apply(e: sp.Expr, alg: Algebra, memo: dict) -> Any:
    """``e`` (not a leaf) from the folded values of its operands."""
    if e.is_Add:
        terms = [memo[a] for a in e.args]
        out = terms[0]
        for t in terms[1:]:
            out = alg.add(out, t)
        return out
    if e.is_Mul:
        factors = [memo[a] for a in e.args]
        out = factors[0]
        for f in factors[1:]:
            out = alg.mul(out, f)
        return out
    if e.is_Pow:
        return alg.power(memo[e.base], e.exp, e)
    if e.func in SYMPY_HEADS:
        return alg.function(SYMPY_HEADS[e.func], [memo[a] for a in e.args], e)
    return alg.other(e, [memo[a] for a in e.args])


def walk(expr: sp.Expr) -> Iterator[sp.Expr]:
    """Every distinct subtree of ``expr`` (pre-order), with an explicit stack: unlike
    ``sympy.preorder_traversal`` it does not recurse on depth."""
    seen: set[sp.Expr] = set()
    stack = [expr]
    while stack:
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        yield e
        stack.extend(reversed(e.args))


def substitute(expr: sp.Expr, values: dict[sp.Symbol, Any]) -> sp.Expr:
    """``expr`` with symbols replaced (xreplace: structural, no evaluation of user text)."""
    return expr.xreplace(values)


def vector_free(expr: sp.Expr, is_vector: Callable[[sp.Symbol], bool]) -> bool:
    return not any(is_vector(s) for s in expr.free_symbols)
