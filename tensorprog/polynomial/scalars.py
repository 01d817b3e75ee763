"""The limits θ̊ of a program's scalars, held twice: in the backend's coefficient domain (fmpq,
float64, sympy's QQ/RR/EX), where the engine computes with them, and as sympy numbers, which the
result reports and symbolic Z's substitute.

An exact derivation starts over rationals (QQ); a scalar that needs more (a float input: RR; an
irrational constant such as exp(1/2): EX) raises :class:`Widen`, and the engine restarts in the
wider domain.
"""

from __future__ import annotations

import math
from typing import Any

import sympy as sp
from sympy.polys.domains import EX, QQ, RR
from sympy.polys.polyerrors import CoercionFailed

from ..backends.domains import NotInDomain
from ..budget import Meter
from ..errors import ProgramError, TensorProgError
from ..expr import Algebra, fold
from ..ir import sym


class Widen(Exception):
    """A scalar does not fit the current domain: restart in ``domain``."""

    def __init__(self, domain: Any) -> None:
        self.domain = domain


class NeedSympy(Exception):
    """A scalar expression the backend's scalar domain cannot evaluate directly."""


def domain_name(K: Any) -> str:
    """"QQ" (exact rationals), "RR" (float inputs in exact mode), "float64" or "EX"."""
    if K is QQ or getattr(K, "is_QQ", False):
        return "QQ"
    if K == RR:
        return "RR"
    if getattr(K, "name", "") == "float64":
        return "float64"
    return "EX"


def scalar_digits(v: Any) -> int:
    """Decimal digits of an exact rational (numerator and denominator), 0 for anything else."""
    p = getattr(v, "p", None)
    if p is None or not hasattr(p, "bit_length"):
        return 0
    return int((p.bit_length() + v.q.bit_length()) * 0.30103) + 1


class Scalars:
    """Every scalar's limit so far; converts program numbers into the domain ``K``.

    ``fast``: evaluate scalar expressions directly in ``K`` where possible (fmpq / float
    arithmetic) instead of through sympy; the reference backend keeps sympy's order exactly.
    """

    def __init__(self, K: Any, fast: bool, meter: Meter | None, exact: bool) -> None:
        self.K = K
        self.fast = fast
        self.meter = meter
        self.exact = exact
        self.values: dict[str, sp.Expr] = {}
        self.kvals: dict[str, Any] = {}
        self.subs: dict[sp.Symbol, sp.Expr] = {}
        self._alg = _ScalarAlgebra(self)

    def to_domain(self, c: sp.Expr, node: str) -> Any:
        """A sympy number as an element of ``K`` (or Widen)."""
        if not c.is_number:
            raise ProgramError(f"'{node}': could not reduce {c} to a number", node=node)
        if c.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
            raise ProgramError(f"'{node}': a scalar is infinite or undefined ({c})", node=node)
        K = self.K
        if K is QQ:
            if c.has(sp.Float):
                raise Widen(RR)
            try:
                return QQ.from_sympy(c)
            except CoercionFailed:
                raise Widen(EX) from None
        if K is RR or K is EX:
            return K.from_sympy(c)
        try:
            return K.from_sympy(c)
        except NotInDomain as e:
            if not K.exact:
                raise ProgramError(
                    f"'{node}': the scalar {c} is not a real number", node=node
                ) from None
            raise Widen(RR if e.widen_to == "RR" else EX) from None

    def value(self, c: sp.Expr, node: str) -> Any:
        """A scalar-only expression (over scalar node symbols) as a domain element."""
        if self.fast:
            try:
                return fold(c, self._alg)
            except NeedSympy:
                pass
            except ZeroDivisionError:
                raise ProgramError(
                    f"'{node}': a scalar is infinite or undefined (division by zero in {c})",
                    node=node,
                ) from None
        return self.to_domain(c.xreplace(self.subs), node)

    def compute(self, name: str, expr: sp.Expr) -> None:
        """θ̊ of a scalar computed from earlier limits."""
        if self.fast:
            try:
                kv = fold(expr, self._alg)
            except NeedSympy:
                kv = None
            except ZeroDivisionError:
                raise ProgramError(
                    f"'{name}': a scalar is infinite or undefined (division by zero)",
                    node=name,
                ) from None
            if kv is not None:
                self.set(name, None, kv)
                return
        value = expr.xreplace(self.subs)
        kv = self.to_domain(value, name)  # checks finiteness; widens the domain if needed
        self.set(name, value, kv)

    def set(self, name: str, value: sp.Expr | None, kval: Any) -> None:
        """Record θ̊ (``value`` None: the sympy form of ``kval``)."""
        if isinstance(kval, float) and not math.isfinite(kval):
            raise TensorProgError(
                f"'{name}' is {kval} in float64 (overflow or an undefined operation)",
                node=name, hint="the limit is beyond float64 range; use mode='exact'",
            )
        if value is None:
            value = self.K.to_sympy(kval)
        self.values[name] = value
        self.kvals[name] = kval
        self.subs[sym(name)] = value
        if self.meter is not None and self.exact:
            digits = scalar_digits(kval)
            if digits:
                self.meter.check_size(0, digits, 0, "a scalar")


class _ScalarAlgebra(Algebra):
    """Evaluate a scalar-only expression directly in the backend's scalar domain (fast path
    for fmpq / float; anything beyond + × and integer powers goes through sympy)."""

    def __init__(self, scalars: Scalars) -> None:
        self.scalars = scalars

    def is_leafish(self, e: sp.Expr) -> bool:
        return e.is_Number

    def symbol(self, s: sp.Symbol) -> Any:
        v = self.scalars.kvals.get(s.name)
        if v is None:
            raise NeedSympy
        return v

    def constant(self, c: sp.Expr) -> Any:
        try:
            return self.scalars.K.from_sympy(c)
        except NotInDomain:
            raise NeedSympy from None

    def power(self, base: Any, exponent: sp.Expr, node: sp.Expr) -> Any:
        if exponent.is_Integer:
            return base ** int(exponent)
        raise NeedSympy

    def function(self, name: str, args: list[Any], node: sp.Expr) -> Any:
        raise NeedSympy

    def other(self, node: sp.Expr, args: list[Any]) -> Any:
        raise NeedSympy
