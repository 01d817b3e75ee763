"""Exact rational exponents for abc-parametrizations.

Every exponent a_l, b_l, c is held as a sympy Rational. Inputs may be ints, Fractions, sympy
Rationals or rational text ("1/2", "-3", "0.25"); text is matched against a whitelist pattern and
handed to ``fractions.Fraction`` -- never evaluated. Floats are converted exactly, with a warning,
only when their exact binary value is a small-denominator rational (0.5 -> 1/2); a float such as
0.1 (whose exact value is 3602879701896397/36028797018963968) is refused, because silently
accepting it would make the classification answer a question the user did not ask.
"""

from __future__ import annotations

import math
import numbers
import os
import re
import sys
import warnings
from collections.abc import Iterable
from fractions import Fraction

import sympy as sp

from ..errors import ParametrizationError

# An integer, a fraction p/q, or a finite decimal -- all exact rationals.
_RATIONAL_TEXT = re.compile(r"^[+-]?(\d+(/\d+)?|\d*\.\d+|\d+\.)$")
# Largest denominator a float may carry to be accepted (with a warning) as an exact exponent.
_FLOAT_MAX_DENOMINATOR = 1024


class InexactInputWarning(UserWarning):
    """A float exponent was converted to the rational it exactly represents."""


def parse_rational(text: str, what: str = "value") -> sp.Rational:
    """Parse rational text ("1/2", "-1", "0.25") into a sympy Rational; never evaluates it."""
    token = text.strip()
    if not _RATIONAL_TEXT.match(token):
        raise ParametrizationError(
            f"{what}: {text!r} is not a rational number",
            hint="write an integer, a fraction like -1/2, or a decimal like 0.25",
        )
    try:
        frac = Fraction(token)
    except ZeroDivisionError:
        raise ParametrizationError(
            f"{what}: zero denominator in {text!r}", hint="write p/q with q != 0"
        ) from None
    return sp.Rational(frac.numerator, frac.denominator)


def parse_rational_list(text: str, what: str = "list") -> tuple[sp.Rational, ...]:
    """Parse a comma-separated list of rationals, e.g. ``"-1/2, 0, 1/2"``."""
    items = text.split(",")
    if not text.strip():
        raise ParametrizationError(f"{what}: empty list", hint="give comma-separated rationals")
    return tuple(
        parse_rational(item, f"{what} item {i + 1}") for i, item in enumerate(items)
    )


def _caller_level() -> int:
    """warnings.warn stacklevel that points at the first frame outside this package."""
    here = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(here):
        frame, level = frame.f_back, level + 1
    return level


def _from_float(value: float, what: str) -> sp.Rational:
    if not math.isfinite(value):
        raise ParametrizationError(f"{what}: {value!r} is not a finite number")
    frac = Fraction(value)  # the float's exact binary value
    if frac.denominator > _FLOAT_MAX_DENOMINATOR:
        guess = frac.limit_denominator(_FLOAT_MAX_DENOMINATOR)
        raise ParametrizationError(
            f"{what}: the float {value!r} is not exactly a simple rational "
            f"(its exact value is {frac}); refusing to classify an inexact exponent",
            hint=f"pass the exact value, e.g. '{guess}' or Fraction({guess.numerator}, "
            f"{guess.denominator})",
        )
    warnings.warn(
        f"{what}: float {value!r} converted exactly to the rational {frac}; "
        "pass Fraction/sympy.Rational/'p/q' text to avoid this warning",
        InexactInputWarning,
        stacklevel=_caller_level(),
    )
    return sp.Rational(frac.numerator, frac.denominator)


def to_rational(value: object, what: str = "value") -> sp.Rational:
    """Convert one exponent to a sympy Rational exactly (see the module docstring)."""
    if isinstance(value, bool):
        raise ParametrizationError(f"{what}: expected a rational number, got {value!r}")
    if isinstance(value, sp.Basic):
        if isinstance(value, sp.Rational):
            return value
        if isinstance(value, sp.Float):
            return _from_float(float(value), what)
        raise ParametrizationError(
            f"{what}: {value} is not a rational number",
            hint="abc exponents must be rational (e.g. 1/2); irrational ones are not supported",
        )
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, float):
        return _from_float(value, what)
    if isinstance(value, str):
        return parse_rational(value, what)
    # numpy scalars and other registered number types (numbers ABCs), exactly.
    if isinstance(value, numbers.Integral):
        return sp.Integer(int(value))
    if isinstance(value, numbers.Rational):
        return sp.Rational(int(value.numerator), int(value.denominator))
    if isinstance(value, numbers.Real):
        return _from_float(float(value), what)
    raise ParametrizationError(
        f"{what}: expected a rational number, got {type(value).__name__} {value!r}",
        hint="pass an int, fractions.Fraction, sympy.Rational or text like '1/2'",
    )


def to_rationals(values: Iterable[object], what: str) -> tuple[sp.Rational, ...]:
    """Convert a sequence of exponents (or comma-separated text) to sympy Rationals."""
    if isinstance(values, str):
        return parse_rational_list(values, what)
    try:
        items = list(values)
    except TypeError:
        raise ParametrizationError(
            f"{what}: expected a sequence of rationals, got {type(values).__name__}",
            hint="pass e.g. [0, Fraction(1, 2), '1/2']",
        ) from None
    return tuple(to_rational(v, f"{what}[{i}]") for i, v in enumerate(items))


def fmt(q: sp.Rational) -> str:
    """Render a rational as ``p/q`` text (round-trips through :func:`parse_rational`)."""
    return str(sp.Rational(q))
