"""ZNonlin in polynomials: a program expression, with the Z's of its vectors and the limits of its
scalars substituted, as a polynomial of the engine's backend.

Only polynomials are representable: a non-polynomial function of a vector is refused with
:class:`~tensorprog.errors.NonPolynomialError` (``mode="numeric"`` or ``"auto"`` handles it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import sympy as sp

from ..budget import Meter
from ..errors import NonPolynomialError
from ..expr import Algebra
from ..functions import SYMPY_HEADS
from ..ir import Program
from .scalars import Scalars

IsVar = Callable[[sp.Symbol], bool]
Leaf = Callable[[sp.Symbol], Any]


def check_power(B: Any, meter: Meter | None, base: Any, n: int, node: str) -> None:
    """Refuse ``base**n`` before it is formed when its estimated size does not fit the
    budget: every backend raises powers in C or in one sympy call, which no check between
    nodes can interrupt (x^100000 would abort inside GMP when memory runs out)."""
    if meter is None or n < 2 or (B.name not in ("plain", "expand") and n < 8):
        return  # small powers in the fast backends go through their guarded products
    st = B.stats(base)
    if st.terms == 0:
        return
    nv = getattr(B, "n", 1)
    terms = min(math.comb(st.terms + n - 1, n) if st.terms > 1 else 1,
                math.comb(nv + n * st.degree, nv))
    # (digits counts numerator and denominator: 2 for the coefficient 1 in most backends)
    digits = n * max(st.digits - 2, 0) + n * math.log10(st.terms) + 1
    bits = int(digits * 3.33) + 1 if B.exact else 64
    meter.node = node
    meter.check_product(min(terms, 1 << 62), bits, 0, bits if B.exact else 0)
    if meter.budget.max_terms is not None and st.terms > 1 and terms > meter.budget.max_terms:
        meter.check_size(terms, 0, 0, f"a power ^{n} (estimated)")


class Converter:
    """What converting needs: the backend, the scalars so far, the budget, the program (for
    error locations)."""

    def __init__(self, program: Program, backend: Any, scalars: Scalars,
                 meter: Meter | None) -> None:  # fmt: skip
        self.program = program
        self.B = backend
        self.K = backend.K
        self.scalars = scalars
        self.meter = meter

    def check_power(self, base: Any, n: int, node: str) -> None:
        check_power(self.B, self.meter, base, n, node)

    def refuse(self, node: str, e: sp.Expr, what: str) -> None:
        prog_node = self.program.node(node) if node in self.program else None
        raise NonPolynomialError(
            f"'{node}' applies {what} ({e}); exact limits need polynomial nonlinearities",
            loc=getattr(prog_node, "loc", None),
            node=node,
            hint="use a polynomial activation (e.g. x^2, x^3 - x) in exact mode; "
            "non-polynomial functions need a numeric expectation",
        )


class PolyAlgebra(Algebra):
    """Fold program/Z expressions into polynomials of the backend (the reference route, and
    symbolic Z's over atom symbols)."""

    def __init__(self, conv: Converter, leaf: Leaf, node: str, is_var: IsVar) -> None:
        self.conv = conv
        self.leaf = leaf
        self.node = node
        self.is_var = is_var

    def is_leafish(self, e: sp.Expr) -> bool:
        return not any(self.is_var(s) for s in e.free_symbols)

    def symbol(self, s: sp.Symbol) -> Any:
        return self.leaf(s)

    def constant(self, c: sp.Expr) -> Any:
        return self.conv.B.const(self.conv.scalars.value(c, self.node))

    def mul(self, a: Any, b: Any) -> Any:
        return self.conv.B.mul(a, b)

    def power(self, base: Any, exponent: sp.Expr, node: sp.Expr) -> Any:
        if exponent.is_Integer and exponent >= 0:
            self.conv.check_power(base, int(exponent), self.node)
            return base ** int(exponent)
        if not self.is_leafish(exponent):
            self.conv.refuse(self.node, node, "a power with a vector-dependent exponent")
        self.conv.refuse(self.node, node, f"the power {exponent} of a vector-dependent quantity")

    def function(self, name: str, args: list[Any], node: sp.Expr) -> Any:
        self.conv.refuse(self.node, node, f"the function {name}() on a vector-dependent argument")

    def other(self, node: sp.Expr, args: list[Any]) -> Any:
        self.conv.refuse(self.node, node, f"{node.func.__name__} on a vector-dependent argument")


class Evaluator:
    """Bottom-up evaluation of a program expression for the fast backends: scalar parts in the
    backend's domain (fmpq / float), vector parts as backend polynomials. One pass, no repeated
    free-symbol scans (large programs have thousands of nodes); ZNonlin applied."""

    def __init__(self, conv: Converter, node: str, leaf: Leaf, is_var: IsVar) -> None:
        self.conv = conv
        self.node = node
        self.leaf = leaf
        self.is_var = is_var
        self.memo: dict[sp.Expr, tuple[bool, Any]] = {}

    def poly(self, e: sp.Expr) -> Any:
        isv, v = self.ev(e)
        return v if isv else self.conv.B.const(v)

    def ev(self, e: sp.Expr) -> tuple[bool, Any]:
        """(depends on a vector, value): a polynomial if it does, a domain scalar if not."""
        hit = self.memo.get(e)
        if hit is not None:
            return hit
        conv = self.conv
        B, K, scalars = conv.B, conv.K, conv.scalars
        if e.is_Symbol:
            if self.is_var(e):
                out = (True, self.leaf(e))
            else:
                v = scalars.kvals.get(e.name)
                out = (False, v if v is not None else scalars.value(e, self.node))
        elif e.is_Number:
            out = (False, scalars.value(e, self.node))
        elif e.is_Add or e.is_Mul:
            vals = [self.ev(a) for a in e.args]
            vecs = [v for isv, v in vals if isv]
            consts = [v for isv, v in vals if not isv]
            if e.is_Add:
                c = K.zero
                for v in consts:
                    c = c + v
                if not vecs:
                    out = (False, c)
                else:
                    acc = vecs[0]
                    for v in vecs[1:]:
                        acc = acc + v
                    out = (True, acc + B.const(c) if c else acc)
            else:
                c = K.one
                for v in consts:
                    c = c * v
                if not vecs:
                    out = (False, c)
                else:
                    acc = vecs[0]
                    for v in vecs[1:]:
                        acc = B.mul(acc, v)
                    out = (True, B.scale(acc, c) if c != K.one else acc)
        elif e.is_Pow:
            isv, b = self.ev(e.base)
            if not e.exp.is_number and any(self.is_var(s) for s in e.exp.free_symbols):
                # a vector in the exponent (2^x): not a polynomial in any backend
                conv.refuse(self.node, e, "a power with a vector-dependent exponent")
            if not isv:
                out = (False, scalars.value(e, self.node))
            elif e.exp.is_Integer and e.exp >= 0:
                conv.check_power(b, int(e.exp), self.node)
                out = (True, b ** int(e.exp))
            else:
                conv.refuse(self.node, e, f"the power {e.exp} of a vector-dependent quantity")
        else:
            vals = [self.ev(a) for a in e.args]
            if any(isv for isv, _ in vals):
                if e.func in SYMPY_HEADS:
                    conv.refuse(self.node, e,
                                f"the function {SYMPY_HEADS[e.func]}() on a vector-dependent "
                                "argument")  # fmt: skip
                conv.refuse(self.node, e, f"{e.func.__name__} on a vector-dependent argument")
            out = (False, scalars.value(e, self.node))
        self.memo[e] = out
        return out
