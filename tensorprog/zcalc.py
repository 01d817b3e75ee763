"""derive_limit: the infinite-width limit of a program, in the mode the user asks for.

The Z-calculus of TP4 (Yang & Hu, arXiv:2011.14522) Definition 7.3 is written once, in
tensorprog.zrules, over a value domain:

* modes "exact" and "float" -- tensorprog.polynomial: every Z a polynomial in Gaussian atoms,
  expectations exact Gaussian moments; the polynomial algebra is a pluggable backend
  (python-flint rationals by default, sympy rings, float64 polynomials, or affine forms when
  every Z is linear); a degree pre-pass (backends.plan) picks the backend and lets the budget
  (tensorprog.budget) refuse oversized derivations up front;
* mode "numeric" -- tensorprog.numeric: every Z its values on Gaussian particles, with error
  estimates;
* mode "auto" -- exact where the program allows, else float or numeric.

ZDot (TP4 Eq. 31) has two routes in the polynomial domain: "stein" (derivative-free: solve
G c = b with b_j = E[Ẑ^{Wᵀy_j} Z^x], G the Wᵀ family covariance) and "derivative" (the symbolic
∂Z^x/∂Ẑ); expectations two: "innovations" (independent LDLᵀ innovations) and "isserlis" (Wick
pairings of the atoms).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sympy.polys.domains import EX, QQ

from .backends import make_backend
from .backends.plan import degree_plan
from .budget import Budget, Meter, as_budget, deadline
from .errors import NonPolynomialError, ProgramError, TensorProgError
from .ir import Program
from .numeric import derive_numeric
from .polynomial import AtomInfo, FamilyInfo, Limit, PolynomialDomain, Widen
from .result import LimitResult

__all__ = ["BACKENDS", "EXPECTATION_ROUTES", "MODES", "ZDOT_ROUTES", "AtomInfo", "FamilyInfo",
           "Limit", "derive_limit"]

ZDOT_ROUTES = ("stein", "derivative")
EXPECTATION_ROUTES = ("innovations", "isserlis")
MODES = ("exact", "float", "numeric", "auto")
#: Backends accepted by ``derive_limit(backend=...)``; "auto" picks by mode and program shape.
BACKENDS = ("auto", "flint", "flint-sparse", "flint-kronecker", "plain", "expand", "linear",
            "float")

Progress = Callable[[int, int, str], None]


def derive_limit(
    program: Program,
    *,
    mode: str = "exact",
    zdot: str = "stein",
    expectation: str = "innovations",
    progress: Progress | None = None,
    backend: str = "auto",
    budget: Budget | dict[str, Any] | None = None,
    float_tol: float | None = None,
    **options: Any,
) -> LimitResult:
    """The infinite-width limit of every scalar (and the Z of every vector) of ``program``.

    mode: "exact" (polynomial nonlinearities; rational inputs give rational limits),
    "float" (the same Z-calculus and exact Gaussian moments with float64 coefficients: cost
    set by the number of terms, not by digit growth; results are marked inexact),
    "numeric" (any whitelisted function; numeric expectations with error estimates, see
    tensorprog.numeric), or "auto" (exact where the program allows; "float" when exact values
    would need irrational constants, e.g. exp() of limits with logistic loss; numeric for
    non-polynomial functions of vectors). The result's ``mode`` says which ran.
    zdot: "stein" (derivative-free, default) or "derivative" (symbolic ∂Φ/∂Ẑ, TP4 Eq. 31).
    expectation: "innovations" (LDLᵀ innovations, default) or "isserlis" (Wick pairings).
    progress: optional callback(done, total, node_name).
    backend: "auto" (flint exact / float64 polynomials, the linear fast path when every Z is
    affine), "flint", "flint-sparse", "flint-kronecker", "plain" (the sympy-ring reference),
    "expand" (sympy expressions multiplied out with sympy.expand: the literal, slow baseline),
    "linear", or "float".
    budget: a tensorprog.budget.Budget or a dict of its fields (max_terms, max_digits,
    max_degree, seconds, memory_mb); exceeding it raises BudgetExceeded naming the node.
    float_tol: mode="float" only: drop terms whose L²(Gaussian) size is below float_tol times
    the polynomial's largest term (default 1e-30; 0 keeps every term).
    options: passed to the numeric interpreter (mode "numeric"/"auto").
    """
    if not isinstance(program, Program):
        raise TypeError(
            f"derive_limit() needs a Program, got {type(program).__name__}: parse .tp text "
            "with tensorprog.parse(text), or read a file with tensorprog.load(path)")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable(done, total, node) or None, not "
                        f"{type(progress).__name__}")
    if mode not in MODES:
        raise TensorProgError(
            f"unknown mode '{mode}'", hint="use mode='exact', 'float', 'numeric' or 'auto'"
        )
    if zdot not in ZDOT_ROUTES:
        raise TensorProgError(f"unknown zdot route '{zdot}'", hint=f"one of {ZDOT_ROUTES}")
    if expectation not in EXPECTATION_ROUTES:
        raise TensorProgError(
            f"unknown expectation route '{expectation}'", hint=f"one of {EXPECTATION_ROUTES}"
        )
    if backend not in BACKENDS:
        raise TensorProgError(f"unknown backend '{backend}'", hint=f"one of {BACKENDS}")
    if float_tol is not None and mode != "float":
        raise TensorProgError("float_tol only applies to mode='float'")
    try:
        with deadline(as_budget(budget).seconds):
            return _derive(program, mode, zdot, expectation, progress, backend, budget,
                           float_tol, options)  # fmt: skip
    except TensorProgError as e:
        if e.loc is None and e.node is not None and e.node in program:
            e.locate(program.node(e.node).loc)  # the line of the node, where the file has one
        raise


def _derive(program, mode, zdot, expectation, progress, backend, budget, float_tol,
            options) -> LimitResult:  # fmt: skip
    if mode in ("numeric", "auto"):
        if mode == "auto":
            try:
                try:
                    return _derive_polynomial(program, "exact", zdot, expectation, progress,
                                              backend, budget, None, symbolic=False)  # fmt: skip
                except _Symbolic:
                    # Irrational constants (exp of a limit, as with logistic loss) would make
                    # exact values nested symbolic expressions that grow without bound: the
                    # same algebra in float64 is both fast and accurate to ~1e-15.
                    return _derive_polynomial(program, "float", zdot, expectation, progress,
                                              "auto", budget, None)  # fmt: skip
            except NonPolynomialError:
                pass
        meter = Meter(as_budget(budget), program)

        def metered(done: int, total: int, node: str) -> None:
            meter.node = node  # the time budget, checked before every node of every pass
            meter.check_time()
            if progress is not None:
                progress(done, total, node)

        return derive_numeric(program, progress=metered, **options)
    if options:
        raise TensorProgError(f"unknown option(s) {sorted(options)} for mode='{mode}'")
    return _derive_polynomial(program, mode, zdot, expectation, progress, backend, budget,
                              float_tol)  # fmt: skip


class _Symbolic(Exception):
    """The exact limit would need symbolic (irrational) constants, and the caller said no."""


def _derive_polynomial(program, mode, zdot, expectation, progress, backend, budget, float_tol,
                       *, symbolic: bool = True) -> Limit:  # fmt: skip
    """derive_limit for modes "exact" and "float"; ``symbolic=False`` raises _Symbolic instead
    of widening an exact derivation to sympy's EX domain."""
    program.require_bound()
    program.validate()  # outputs and covariance; add() already checked every node
    meter = Meter(as_budget(budget), program)
    plan = degree_plan(program)
    meter.check_degree_plan(plan.node_degree)
    if mode == "exact":
        meter.check_moment_digits(plan.node_degree)
    n_atoms = max(plan.n_atoms, 1)
    start = time.perf_counter()
    domain: Any = "float64" if mode == "float" else QQ
    while True:
        mem = meter.budget.memory_mb
        B = make_backend(backend, mode, domain, n_atoms, plan, expectation,
                         guard=meter.check_product, float_tol=float_tol,
                         dense_mb=None if mem is None else mem / 2)
        engine = PolynomialDomain(program, B, zdot, expectation, meter)
        try:
            engine.run(progress)
            break
        except Widen as w:
            if domain == EX or w.domain == domain:
                raise
            domain = w.domain if domain == QQ else EX
            if domain == EX and not symbolic:
                raise _Symbolic from None
        except ArithmeticError as e:
            raise ProgramError(str(e)) from None
    return Limit(program, engine, mode, time.perf_counter() - start, meter, plan)
