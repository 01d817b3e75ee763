"""Names and numbers of Tensor Program expressions (a leaf: no IR, no parser).

``sym(name)`` is the sympy symbol standing for program node ``name`` inside expressions;
``RESERVED`` are the words a node may not be called; ``as_number`` turns a Python number into a
sympy number without letting text or a float in silently. :mod:`tensorprog.ir` re-exports all
three (``tensorprog.ir.sym`` etc.), and the expression parser (:mod:`tensorprog.syntax`) builds
its sympy expressions from them.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import sympy as sp

from .errors import ProgramError
from .functions import FUNCTIONS

__all__ = ["NAME_PATTERN", "RESERVED", "as_number", "sym"]

#: A node name: a Python-style identifier (keywords are refused separately).
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

RESERVED = frozenset(FUNCTIONS) | {
    "mean", "output", "scalar", "vector", "matrix", "param", "input", "N", "n", "T"
}


def sym(name: str) -> sp.Symbol:
    """The sympy symbol that stands for program node ``name`` inside expressions."""
    return sp.Symbol(name, real=True)


def as_number(value) -> sp.Expr:
    """A sympy number from an int, Fraction, str-free rational, float or sympy number.

    Python floats become sympy Floats (and so mark results as inexact); ints and Fractions stay
    exact. Strings are refused here: text goes through the `.tp` parser, never through sympify.
    """
    if isinstance(value, bool):
        raise ProgramError(f"expected a number, got {value!r}")
    if isinstance(value, sp.Basic):
        if not value.is_number:
            raise ProgramError(f"expected a number, got the expression {value}")
        if value.has(sp.nan, sp.oo, -sp.oo, sp.zoo) or value.is_extended_real is False:
            raise ProgramError(f"expected a finite real number, got {value}")
        return value
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ProgramError(f"expected a finite number, got {value!r}")
        return sp.Float(value)
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    raise ProgramError(
        f"expected a number, got {type(value).__name__} {value!r}",
        hint="pass an int, fractions.Fraction, float or sympy number",
    )
