"""Evaluating program expressions on particles: numpy arrays for vectors, floats for scalars.

Every whitelisted function is applied through its numpy form (tensorprog.functions.FUNCTIONS),
the same forms the finite-width interpreter uses, so a limit and a simulation evaluate φ alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from ..errors import ProgramError
from ..expr import Algebra, fold
from ..functions import FUNCTIONS

_RELATIONS = {
    sp.StrictLessThan: np.less,
    sp.LessThan: np.less_equal,
    sp.StrictGreaterThan: np.greater,
    sp.GreaterThan: np.greater_equal,
    sp.Equality: np.equal,
    sp.Unequality: np.not_equal,
}


class ParticleAlgebra(Algebra):
    """Folds an expression over node symbols; ``env`` maps names to floats or (M,) arrays."""

    def __init__(self, env: dict[str, Any], node: str) -> None:
        self.env = env
        self.node = node

    def is_leafish(self, node: sp.Basic) -> bool:
        # Piecewise branches (ExprCondPair) and conditions are folded, not taken as constants.
        if isinstance(node, sp.logic.boolalg.BooleanAtom):
            return True
        return not node.free_symbols and isinstance(node, sp.Expr)

    def symbol(self, s: sp.Symbol) -> Any:
        return self.env[s.name]

    def constant(self, c: sp.Expr) -> Any:
        if isinstance(c, sp.logic.boolalg.BooleanAtom):
            return bool(c)
        try:
            return np.float64(float(c))  # numpy semantics: 1/0 -> inf (reported), not a raise
        except (TypeError, ValueError):
            raise ProgramError(
                f"'{self.node}': the constant {c} is not a real number", node=self.node
            ) from None

    def power(self, base: Any, exponent: sp.Expr, node: sp.Expr) -> Any:
        if exponent.is_Integer:
            e = int(exponent)
            return base**e if e >= 0 else 1.0 / base ** (-e)
        ex = fold(exponent, self) if exponent.free_symbols else float(exponent)
        return np.power(base, ex)

    def function(self, name: str, args: list[Any], node: sp.Expr) -> Any:
        if name == "step":
            # sympy's Heaviside carries its value at 0 as a second argument (1/2 by default).
            return np.heaviside(args[0], args[1] if len(args) > 1 else 0.5)
        return FUNCTIONS[name].numpy(*args)

    def other(self, node: sp.Expr, args: list[Any]) -> Any:
        if isinstance(node, sp.Max):
            return np.maximum.reduce(np.broadcast_arrays(*args))
        if isinstance(node, sp.Min):
            return np.minimum.reduce(np.broadcast_arrays(*args))
        if type(node) in _RELATIONS:
            return _RELATIONS[type(node)](args[0], args[1])
        if isinstance(node, sp.And):
            return np.logical_and.reduce(np.broadcast_arrays(*args))
        if isinstance(node, sp.Or):
            return np.logical_or.reduce(np.broadcast_arrays(*args))
        if isinstance(node, sp.Not):
            return np.logical_not(args[0])
        if isinstance(node, sp.functions.elementary.piecewise.ExprCondPair):
            return tuple(args)
        if isinstance(node, sp.Piecewise):
            values = [v for v, _ in args]
            conds = [c for _, c in args]
            shape = np.broadcast_shapes(*[np.shape(a) for a in values + conds])
            return np.select(
                [np.broadcast_to(c, shape) for c in conds],
                [np.broadcast_to(np.asarray(v, float), shape) for v in values],
                default=np.nan,
            )
        raise ProgramError(
            f"'{self.node}': cannot evaluate {node.func.__name__} numerically", node=self.node,
            hint="use the whitelisted functions of tensorprog.functions",
        )


def evaluate(expr: sp.Expr, env: dict[str, Any], node: str) -> Any:
    """``expr`` evaluated on the particles (an array) or on scalars only (a float)."""
    with np.errstate(all="ignore"):  # non-finite values are reported by the interpreter
        return fold(expr, ParticleAlgebra(env, node))
