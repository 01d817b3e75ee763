"""Scalar domains for the polynomial backends, with the small interface the engine and
:class:`tensorprog.gaussian.GaussianFamily` use (``zero``, ``one``, ``convert``, ``from_sympy``,
``to_sympy``, ``is_RR``, ``is_EX``) — the same names as sympy's polys domains, so the sympy
domains QQ / RR / EX (the plain backend) and these adapters are interchangeable.

* :data:`FLINT_QQ` -- exact rationals as python-flint ``fmpq`` (GMP-backed, canonical);
* :data:`FLOAT64` -- Python floats (IEEE double), for ``mode="float"``.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import sympy as sp
from flint import fmpq, fmpz


class NotInDomain(Exception):
    """A number the domain cannot hold exactly (the engine then widens the domain)."""

    def __init__(self, widen_to: str) -> None:
        super().__init__(widen_to)
        self.widen_to = widen_to


def rational_to_sympy(p: int, q: int = 1) -> sp.Rational:
    """A sympy Rational from a reduced fraction p/q (q > 0), skipping sympy's gcd, which costs
    real time on million-digit numbers."""
    if q == 1:
        return sp.Integer(p)
    if _FROM_COPRIME is not None:
        return _FROM_COPRIME(p, q)
    return sp.Rational(p, q)


_FROM_COPRIME = getattr(sp.Rational, "from_coprime_ints", None)


class FlintQQ:
    """Exact rationals (python-flint fmpq)."""

    name = "QQ"
    is_QQ = True
    is_RR = False
    is_EX = False
    exact = True
    zero = fmpq(0)
    one = fmpq(1)

    def convert(self, x: Any) -> fmpq:
        return fmpq(x)

    def from_sympy(self, c: sp.Expr) -> fmpq:
        if c.is_Rational:
            return fmpq(int(c.p), int(c.q))
        if c.has(sp.Float):
            raise NotInDomain("RR")
        raise NotInDomain("EX")

    def to_sympy(self, x: fmpq) -> sp.Expr:
        return rational_to_sympy(int(x.p), int(x.q))

    def __repr__(self) -> str:
        return "FlintQQ"


class Float64:
    """IEEE double precision (``mode="float"``): cost set by the number of monomials only."""

    name = "float64"
    is_QQ = False
    is_RR = True
    is_EX = False
    exact = False
    zero = 0.0
    one = 1.0

    def convert(self, x: Any) -> float:
        return float(x)

    def from_sympy(self, c: sp.Expr) -> float:
        if c.is_Rational:
            return _rational_float(int(c.p), int(c.q))
        value = complex(sp.N(c, 20))
        if value.imag:
            raise NotInDomain("EX")
        return value.real

    def to_sympy(self, x: float) -> sp.Expr:
        return sp.Float(x, 17)

    def __repr__(self) -> str:
        return "Float64"


def _rational_float(p: int, q: int) -> float:
    """p/q correctly rounded, also for integers far beyond the float range of int → float."""
    try:
        return p / q
    except OverflowError:
        return math.copysign(math.inf, p)


FLINT_QQ = FlintQQ()
FLOAT64 = Float64()


def int_text(n: int | fmpz) -> str:
    """Decimal text of an integer of any size (CPython refuses int→str past 4300 digits)."""
    if isinstance(n, int) and abs(n).bit_length() < 14000:
        return str(n)
    return str(fmpz(n)) if not isinstance(n, fmpz) else str(n)


def number_text(v: sp.Expr) -> str:
    """Exact text of a sympy number; huge rationals are printed through flint, never through
    CPython's limited int→str."""
    if isinstance(v, sp.Rational):
        if v.q == 1:
            return int_text(int(v.p))
        return f"{int_text(int(v.p))}/{int_text(int(v.q))}"
    try:
        return str(v)
    except ValueError:  # a huge rational inside an expression
        old = sys.get_int_max_str_digits()
        sys.set_int_max_str_digits(0)
        try:
            return str(v)
        finally:
            sys.set_int_max_str_digits(old)
