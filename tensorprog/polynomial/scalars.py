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


def _log10_size(v: Any) -> float:
    """log10 |numerator| + log10 denominator of an exact rational (fmpq, sympy's, gmpy2's,
    int); 0 for anything else."""
    p = getattr(v, "p", getattr(v, "numerator", None))
    q = getattr(v, "q", getattr(v, "denominator", 1))
    try:
        p, q = int(p), int(q)
    except (TypeError, ValueError):
        return 0.0
    return (math.log10(abs(p)) if p else 0.0) + math.log10(q)


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
        self._node = ""  # the node being evaluated, for errors

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
                _require_real(c, node)
                raise Widen(EX) from None
        if K is RR or K is EX:
            _require_real(c, node)
            return K.from_sympy(c)
        try:
            return K.from_sympy(c)
        except NotInDomain as e:
            if not K.exact:
                raise ProgramError(
                    f"'{node}': the scalar {c} is not a real number", node=node
                ) from None
            raise Widen(RR if e.widen_to == "RR" else EX) from None

    def check_power(self, base_size: float, n: int, node: str) -> None:
        """Refuse an exact power whose result would exceed the digit budget, before computing
        it (10^(10^9) takes seconds and gigabytes to form, and no check can interrupt it)."""
        meter = self.meter
        if meter is None or meter.budget.max_digits is None or abs(n) < 2:
            return
        est = int(base_size * abs(n)) + 1  # digits of base^n: log10 sizes multiply by |n|
        if est > meter.budget.max_digits:
            meter.node = node
            meter.check_size(0, est, 0, f"a scalar power ^{n} (estimated before computing it)")

    def _sympy_value(self, c: sp.Expr, node: str) -> sp.Expr:
        """``c`` with the scalars' limits substituted (sympy evaluates integer powers at once:
        their size is checked first)."""
        if not c.is_Atom:
            fold(c, _DigitsAlgebra(self, node))
        return c.xreplace(self.subs)

    def value(self, c: sp.Expr, node: str) -> Any:
        """A scalar-only expression (over scalar node symbols) as a domain element."""
        if self.fast:
            try:
                self._node = node
                return fold(c, self._alg)
            except NeedSympy:
                pass
            except ZeroDivisionError:
                raise ProgramError(
                    f"'{node}': a scalar is infinite or undefined (division by zero in {c})",
                    node=node,
                ) from None
        return self.to_domain(self._sympy_value(c, node), node)

    def compute(self, name: str, expr: sp.Expr) -> None:
        """θ̊ of a scalar computed from earlier limits."""
        if self.fast:
            try:
                self._node = name
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
        value = self._sympy_value(expr, name)
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


def _require_real(c: sp.Expr, node: str) -> None:
    if c.is_extended_real is False:
        raise ProgramError(
            f"'{node}': the scalar {c} is not a real number", node=node,
            hint="the limits of a program are real: log or sqrt of a negative limit, or a "
            "negative base to a fractional power, has no real value",
        )


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
            self.scalars.check_power(_log10_size(base), int(exponent), self.scalars._node)
            return base ** int(exponent)
        raise NeedSympy

    def function(self, name: str, args: list[Any], node: sp.Expr) -> Any:
        raise NeedSympy

    def other(self, node: sp.Expr, args: list[Any]) -> Any:
        raise NeedSympy


class _DigitsAlgebra(Algebra):
    """An upper estimate of log10 of the size of a scalar expression's exact value, checking
    every integer power against the budget on the way (products add sizes, powers multiply
    them)."""

    def __init__(self, scalars: Scalars, node: str) -> None:
        self.scalars = scalars
        self.node = node

    def is_leafish(self, e: sp.Expr) -> bool:
        return e.is_Number

    def symbol(self, s: sp.Symbol) -> float:
        v = self.scalars.values.get(s.name)
        return _log10_size(v) if v is not None and v.is_Rational else 0.0

    def constant(self, c: sp.Expr) -> float:
        return _log10_size(c) if c.is_Rational else 0.0

    def add(self, a: float, b: float) -> float:
        return a + b + 1  # a/b + c/d = (ad + bc)/(bd)

    def mul(self, a: float, b: float) -> float:
        return a + b

    def power(self, base: float, exponent: sp.Expr, node: sp.Expr) -> float:
        if exponent.is_Integer:
            self.scalars.check_power(base, int(exponent), self.node)
            return base * abs(int(exponent))
        return base

    def function(self, name: str, args: list[float], node: sp.Expr) -> float:
        return max(args, default=0.0)

    def other(self, node: sp.Expr, args: list[float]) -> float:
        return max(args, default=0.0)
