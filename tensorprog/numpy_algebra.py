"""One numpy evaluation of program expressions, for every numpy consumer.

The finite-width interpreter (vectors of length n), the numeric limit engine (values on
particles) and the finite-width trainer (φ and φ' on pre-activations) all fold expressions with
:class:`NumpyAlgebra`, so a simulation, a numeric limit and a training run apply every
whitelisted function (:data:`tensorprog.functions.FUNCTIONS`) through the same numpy form.

The one deliberate difference is the scalar type of constants (``ieee``):

* ``ieee=False`` (finite width, trainer): Python floats, so a scalar division by zero raises
  ``ZeroDivisionError`` and the interpreter names the node that divided;
* ``ieee=True`` (numeric engine): numpy float64, so 1/0 is inf and the engine reports the
  non-finite value with its own diagnosis.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from .errors import ProgramError
from .expr import Algebra, fold
from .functions import FUNCTIONS

__all__ = ["NumpyAlgebra", "evaluate_numpy"]

_RELATIONS = {
    sp.StrictLessThan: np.less,
    sp.LessThan: np.less_equal,
    sp.StrictGreaterThan: np.greater,
    sp.GreaterThan: np.greater_equal,
    sp.Equality: np.equal,
    sp.Unequality: np.not_equal,
}


class NumpyAlgebra(Algebra):
    """Folds an expression over node symbols; ``env`` maps names to floats or arrays.

    ``node``: the program node being evaluated (named in errors); ``what``: how an expression
    that cannot be evaluated is described ("at finite width", "in the activation", ...).
    """

    def __init__(self, env: dict[str, Any], node: str | None = None, *, ieee: bool = False,
                 what: str = "numerically") -> None:  # fmt: skip
        self.env = env
        self.node = node
        self.ieee = ieee
        self.what = what

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
        if not self.ieee:
            return float(c)
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
        if exponent.is_number:
            return np.power(base, float(exponent))
        # A vector or scalar exponent (2^x): evaluate it like any other subexpression.
        return np.power(np.asarray(base, float), np.asarray(fold(exponent, self), float))

    def function(self, name: str, args: list[Any], node: sp.Expr) -> Any:
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
        where = f"'{self.node}': " if self.node else ""
        raise ProgramError(
            f"{where}cannot evaluate {node.func.__name__} {self.what}", node=self.node,
            hint="use the whitelisted functions: " + ", ".join(sorted(FUNCTIONS)),
        )


def evaluate_numpy(expr: sp.Expr, env: dict[str, Any], node: str | None = None, *,
                   ieee: bool = False, what: str = "numerically") -> Any:  # fmt: skip
    """``expr`` folded with numpy over ``env`` (an array, or a float when all inputs are)."""
    return fold(expr, NumpyAlgebra(env, node, ieee=ieee, what=what))
