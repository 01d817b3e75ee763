"""Polynomial backends of the limit engine (see :mod:`tensorprog.backends.base` for the
interface) and the choice between them.

=================  ==========================================================================
backend            representation
=================  ==========================================================================
``plain``          sympy sparse rings over QQ / RR / EX: the reference route, and the only
                   one for irrational constants
``expand``         sympy expressions multiplied out by ``sympy.expand``: the literal baseline
                   of the benchmarks (slow)
``flint``          python-flint integer polynomials ÷ a common denominator; products packed by
                   Kronecker substitution when dense enough (``flint-kronecker`` always,
                   ``flint-sparse`` never)
``float``          float64 coefficients (``mode="float"``), negligible terms pruned
``linear``         affine forms in the innovations: Gaussian linear algebra (every Z linear)
=================  ==========================================================================
"""

from __future__ import annotations

from typing import Any

from sympy.polys.domains import QQ

from ..errors import TensorProgError
from .base import DegreePlan


def make_backend(
    name: str,
    mode: str,
    domain: Any,
    n: int,
    plan: DegreePlan,
    expectation: str,
    *,
    guard: Any = None,
    float_tol: float | None = None,
    dense_mb: float | None = None,
) -> Any:
    """The backend for one derivation attempt (``domain``: sympy QQ/RR/EX or "float64");
    ``dense_mb``: memory above which flint avoids dense Kronecker products (half the budget)."""
    if mode == "float":
        if name in ("auto", "linear") and plan.linear and expectation == "innovations":
            from .linear import LinearBackend

            return LinearBackend(n)
        if name == "linear":
            raise TensorProgError(
                "backend='linear' needs every Z to be linear in the atoms and "
                "expectation='innovations'",
                hint="use backend='auto'",
            )
        if name not in ("auto", "float"):
            raise TensorProgError(
                f"backend '{name}' is exact; mode='float' uses backend 'float' or 'linear'"
            )
        from .floatpoly import FloatBackend

        return FloatBackend(n, plan, tol=float_tol, guard=guard)
    if name in ("float",):
        raise TensorProgError("backend 'float' needs mode='float'")
    if name == "expand":
        if domain is not QQ:
            raise TensorProgError("backend 'expand' is exact over the rationals only",
                                  hint="use backend='plain'")
        from .expand import ExpandBackend

        return ExpandBackend(n, domain)
    if domain is not QQ or name == "plain":
        from .plain import PlainBackend

        return PlainBackend(n, domain)
    if name == "linear" and not plan.linear:
        raise TensorProgError(
            "backend='linear' needs every Z to be linear in the atoms", hint="use backend='auto'"
        )
    from .flintq import FlintBackend

    kron = {"flint-sparse": "never", "flint-kronecker": "always"}.get(name, "auto")
    return FlintBackend(n, kronecker=kron, guard=guard, dense_mb=dense_mb)
