"""Exact NNGP and NTK kernels of an L-hidden-layer MLP, derived by the limit engine.

The first forward and backward passes are written as one Tensor Program (TP4 §7; the kernels are
Moments of it) and derived exactly, so polynomial activations give rational kernels.

Conventions are those of neural-tangents' ``stax.serial(Dense(W_std, b_std=0), act, ...,
Dense(W_std, b_std=0))`` in the NTK parametrization: a layer computes W_std/√fan_in · w x with
w ~ N(0, 1); the input kernel is ξ·ξ'/d (first layer divided by the input dimension). With
σ² = W_std²:

    NNGP = σ² E[Z^{x^L(ξ)} Z^{x^L(ξ')}]
    NTK  = NNGP + Σ_{l=2..L} σ² E[Z^{δ^l} Z^{δ^l'}] E[Z^{x^{l-1}} Z^{x^{l-1}'}]
           + (σ²/d) ξ·ξ' E[Z^{δ^1} Z^{δ^1'}],

where δ^l = √n ∂f/∂h^l are the width-normalized gradients (δ^L = W_std v ⊙ φ'(h^L),
δ^{l-1} = W^lᵀ δ^l ⊙ φ'(h^{l-1})). This equals the usual recursion
Θ^{l+1} = Σ^{l+1} + σ² Θ^l E[φ'φ'] (tested independently).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

from .errors import ProgramError
from .ir import Program, as_number, sym
from .syntax import parse_expression
from .zcalc import Limit, derive_limit

X = sym("x")


@dataclass(frozen=True)
class Kernels:
    """NNGP and NTK Gram matrices at the given inputs, and the program that defines them."""

    nngp: sp.Matrix
    ntk: sp.Matrix
    program: Program
    limit: Limit


def activation_expr(activation) -> sp.Expr:
    """A sympy expression in ``x`` from a sympy expression or `.tp` expression text."""
    if isinstance(activation, str):
        activation = parse_expression(activation)
    if not isinstance(activation, sp.Expr):
        raise ProgramError(f"activation must be an expression in x, got {activation!r}")
    extra = {s.name for s in activation.free_symbols} - {"x"}
    if extra:
        raise ProgramError(
            f"activation may only use the variable x, found {', '.join(sorted(extra))}",
            hint="write e.g. 'x^2' or 'x^3/3 - x'",
        )
    return activation.xreplace({s: X for s in activation.free_symbols})


def _inputs(inputs: Sequence) -> list[list[sp.Expr]]:
    xs = [[as_number(v) for v in (row if isinstance(row, (list, tuple)) else [row])]
          for row in inputs]
    if not xs:
        raise ProgramError("kernels need at least one input")
    if any(len(r) != len(xs[0]) for r in xs):
        raise ProgramError("all inputs must have the same dimension")
    for i, r in enumerate(xs):
        if all(v == 0 for v in r):
            raise ProgramError(f"input {i} is zero", hint="kernels are defined for nonzero inputs")
    return xs


def kernel_program(
    inputs: Sequence[Sequence], depth: int, activation, weight_var=1
) -> Program:
    """The Tensor Program of the first forward and backward pass at every input."""
    if depth < 1:
        raise ProgramError(f"depth must be >= 1, got {depth}")
    xs = _inputs(inputs)
    d = len(xs[0])
    phi = activation_expr(activation)
    dphi = sp.diff(phi, X)
    s2 = as_number(weight_var)
    p = Program("mlp_kernels")
    U = [p.vector(f"U{j}", s2 / d) for j in range(d)]  # first layer: W_std/√d, w ~ N(0,1)
    v = p.vector("v")  # output layer w ~ N(0, 1); the W_std factor goes into δ^L
    Ws = {lvl: p.matrix(f"W{lvl}", s2) for lvl in range(2, depth + 1)}
    k = len(xs)
    h = {}
    xa = {}
    for i, xi in enumerate(xs):
        h[1, i] = p.nonlin(f"h1_{i}", sp.Add(*[c * u for c, u in zip(xi, U)]))
        xa[1, i] = p.nonlin(f"x1_{i}", phi.xreplace({X: h[1, i]}))
        for lvl in range(2, depth + 1):
            h[lvl, i] = p.matmul(f"h{lvl}_{i}", Ws[lvl], xa[lvl - 1, i])
            xa[lvl, i] = p.nonlin(f"x{lvl}_{i}", phi.xreplace({X: h[lvl, i]}))
    delta = {}
    for i in range(k):
        # δ^L = W_std v φ'(h^L): the factor W_std (irrational in general) is kept out of the
        # program; every E[δ^l δ^l'] needs exactly σ² = W_std² times the moment computed here.
        delta[depth, i] = p.nonlin(f"d{depth}_{i}", v * dphi.xreplace({X: h[depth, i]}))
        for lvl in range(depth, 1, -1):
            back = p.matmul(f"g{lvl - 1}_{i}", Ws[lvl].T, delta[lvl, i])
            delta[lvl - 1, i] = p.nonlin(
                f"d{lvl - 1}_{i}", back * dphi.xreplace({X: h[lvl - 1, i]})
            )
    for i in range(k):
        for j in range(i, k):
            p.moment(f"xx{depth}_{i}_{j}", xa[depth, i] * xa[depth, j])
            for lvl in range(1, depth + 1):
                p.moment(f"dd{lvl}_{i}_{j}", delta[lvl, i] * delta[lvl, j])
                if lvl < depth:
                    p.moment(f"xx{lvl}_{i}_{j}", xa[lvl, i] * xa[lvl, j])
    p.output(*[f"xx{depth}_{i}_{j}" for i in range(k) for j in range(i, k)])
    return p


def mlp_kernels(
    inputs: Sequence[Sequence], depth: int, activation, *, weight_var=1, **derive_options
) -> Kernels:
    """Exact NNGP and NTK of an MLP with ``depth`` hidden layers at ``inputs``.

    ``weight_var`` is W_std² (rational for exact results); ``activation`` an expression in x.
    """
    p = kernel_program(inputs, depth, activation, weight_var)
    lim = derive_limit(p, **derive_options)
    xs = _inputs(inputs)
    s2 = as_number(weight_var)
    d = len(xs[0])
    k = len(xs)
    nngp = sp.zeros(k, k)
    ntk = sp.zeros(k, k)
    for i in range(k):
        for j in range(i, k):
            K = s2 * lim[f"xx{depth}_{i}_{j}"]
            T = K
            for lvl in range(2, depth + 1):
                T += s2 * (s2 * lim[f"dd{lvl}_{i}_{j}"]) * lim[f"xx{lvl - 1}_{i}_{j}"]
            dot = sum((a * b for a, b in zip(xs[i], xs[j])), sp.S.Zero)
            T += s2 / d * dot * (s2 * lim[f"dd1_{i}_{j}"])
            nngp[i, j] = nngp[j, i] = K
            ntk[i, j] = ntk[j, i] = T
    return Kernels(nngp, ntk, p, lim)
