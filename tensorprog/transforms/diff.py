"""Partial derivatives of program expressions, staying inside the function whitelist.

sympy's ``diff`` would introduce heads a program cannot hold (``sign``, ``DiracDelta``,
``Derivative``); here every whitelisted function contributes the derivative it declares in
:data:`tensorprog.functions.DERIVATIVES`, and a function without one is refused by name.
"""

from __future__ import annotations

import sympy as sp

from ..errors import ProgramError
from ..functions import DERIVATIVES, SYMPY_HEADS


def derivative(expr: sp.Expr, s: sp.Symbol, *, node: str | None = None) -> sp.Expr:
    """∂expr/∂s for a program expression (sums, products, powers, whitelisted functions,
    Max/Min of two arguments)."""
    memo: dict[sp.Expr, sp.Expr] = {}

    def d(e: sp.Expr) -> sp.Expr:
        if s not in e.free_symbols:
            return sp.S.Zero
        hit = memo.get(e)
        if hit is not None:
            return hit
        if e == s:
            out = sp.S.One
        elif e.is_Add:
            out = sp.Add(*[d(a) for a in e.args])
        elif e.is_Mul:
            args = e.args
            out = sp.Add(
                *[
                    sp.Mul(*args[:i], d(a), *args[i + 1 :])
                    for i, a in enumerate(args)
                    if s in a.free_symbols
                ]
            )
        elif e.is_Pow:
            b, x = e.base, e.exp
            if s not in x.free_symbols:
                out = x * b ** (x - 1) * d(b)
            else:
                out = e * (d(x) * sp.log(b) + x * d(b) / b)
        elif e.func in SYMPY_HEADS:
            name = SYMPY_HEADS[e.func]
            rule = DERIVATIVES.get(name)
            if rule is None or len(e.args) != 1:
                raise ProgramError(
                    f"cannot differentiate {name}(...) for training: its derivative is not a "
                    "function a Tensor Program can hold",
                    node=node,
                    hint=f"replace {name} by a differentiable function (e.g. sigmoid for step)",
                )
            out = rule(e.args[0]) * d(e.args[0])
        elif isinstance(e, (sp.Max, sp.Min)) and len(e.args) == 2:
            a, b = e.args
            sgn = 1 if isinstance(e, sp.Max) else -1
            out = sp.Heaviside(sgn * (a - b), sp.Rational(1, 2)) * d(a) + sp.Heaviside(
                sgn * (b - a), sp.Rational(1, 2)
            ) * d(b)
        else:
            raise ProgramError(
                f"cannot differentiate {e.func.__name__}(...) for training",
                node=node,
                hint="use +, *, powers and whitelisted functions",
            )
        memo[e] = out
        return out

    return d(expr)
