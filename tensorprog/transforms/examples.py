"""Example model descriptions (forward passes with declared parameters), ready for
:func:`~tensorprog.transforms.train_program`. All in μP (TP4, Yang & Hu, arXiv:2011.14522,
Def. 5.1): input columns U, biases and the output vector nV are N(0, 1) vectors, hidden matrices
have N(0, 1/n) entries, every learning-rate multiplier is 1. ``phi`` is a sympy expression in
``sym("x")`` (default x).
"""

from __future__ import annotations

import sympy as sp

from ..ir import Program, as_number, sym

X = sym("x")
_EPS = sp.Rational(1, 10)


def _phi(phi: sp.Expr | None):
    e = X if phi is None else phi
    return lambda v: e.xreplace({X: v})


def residual_mlp(depth: int = 3, phi: sp.Expr | None = None) -> Program:
    """h¹ = ξ U, h^l = h^{l−1} + W^l φ(h^{l−1}) (l = 2 … depth), f = mean(nV ⊙ h^depth)."""
    f = _phi(phi)
    m = Program(f"residual_depth{depth}")
    U = m.param_vector("U", role="input")
    nV = m.param_vector("nV", role="output")
    W = {l: m.param_matrix(f"W{l}") for l in range(2, depth + 1)}
    (xi,) = m.input("xi")
    h = m.nonlin("h1", xi * U)
    for l in range(2, depth + 1):
        a = m.nonlin(f"a{l}", f(h))
        Wa = m.matmul(f"Wa{l}", W[l], a)
        h = m.nonlin(f"h{l}", h + Wa)
    m.moment("f", nV * h)
    m.output("f")
    return m


def rnn(steps: int = 3, phi: sp.Expr | None = None) -> Program:
    """s¹ = ξ₁ U, s^k = W φ(s^{k−1}) + ξ_k U (k = 2 … steps), f = mean(nV ⊙ s^steps): one
    matrix W shared by every time step, trained by backpropagation through time."""
    f = _phi(phi)
    m = Program(f"rnn_{steps}")
    U = m.param_vector("U", role="input")
    nV = m.param_vector("nV", role="output")
    W = m.param_matrix("W")
    xs = m.input(*[f"xi{k}" for k in range(1, steps + 1)])
    s = m.nonlin("s1", xs[0] * U)
    for k in range(2, steps + 1):
        a = m.nonlin(f"a{k}", f(s))
        Wa = m.matmul(f"Wa{k}", W, a)
        s = m.nonlin(f"s{k}", Wa + xs[k - 1] * U)
    m.moment("f", nV * s)
    m.output("f")
    return m


def mlp_with_biases(phi: sp.Expr | None = None) -> Program:
    """Two hidden layers with trainable biases: h¹ = ξ U + b¹, h² = W x¹ + b², x^l = φ(h^l),
    f = mean(nV ⊙ x²)."""
    f = _phi(phi)
    m = Program("mlp_biases")
    U = m.param_vector("U", role="input")
    b1 = m.param_vector("b1", role="bias")
    b2 = m.param_vector("b2", role="bias")
    nV = m.param_vector("nV", role="output")
    W = m.param_matrix("W2")
    (xi,) = m.input("xi")
    h1 = m.nonlin("h1", xi * U + b1)
    x1 = m.nonlin("x1", f(h1))
    h2 = m.nonlin("h2", m.matmul("Wx1", W, x1) + b2)
    x2 = m.nonlin("x2", f(h2))
    m.moment("f", nV * x2)
    m.output("f")
    return m


def two_outputs(phi: sp.Expr | None = None) -> Program:
    """A 2-input, 2-output network with one hidden matrix: h¹ = ξ₁U₁ + ξ₂U₂, h² = W φ(h¹),
    f1 = mean(nV1 ⊙ φ(h²)), f2 = mean(nV2 ⊙ φ(h²)); the loss sums both outputs' losses."""
    f = _phi(phi)
    m = Program("two_outputs")
    U1 = m.param_vector("U1", role="input")
    U2 = m.param_vector("U2", role="input")
    nV1 = m.param_vector("nV1", role="output")
    nV2 = m.param_vector("nV2", role="output")
    W = m.param_matrix("W2")
    xi1, xi2 = m.input("xi1", "xi2")
    h1 = m.nonlin("h1", xi1 * U1 + xi2 * U2)
    h2 = m.matmul("h2", W, m.nonlin("x1", f(h1)))
    x2 = m.nonlin("x2", f(h2))
    m.moment("f1", nV1 * x2)
    m.moment("f2", nV2 * x2)
    m.output("f1", "f2")
    return m


def normalized(phi: sp.Expr | None = None, eps=_EPS) -> Program:
    """A normalization layer: h¹ = ξ U, h² = W φ(h¹), z = h² / sqrt(mean((h²)²) + ε),
    f = mean(nV ⊙ φ(z)); the scalar mean((h²)²) carries a cotangent (a Moment in the backward
    pass)."""
    f = _phi(phi)
    m = Program("normalized")
    U = m.param_vector("U", role="input")
    nV = m.param_vector("nV", role="output")
    W = m.param_matrix("W2")
    (xi,) = m.input("xi")
    h1 = m.nonlin("h1", xi * U)
    h2 = m.matmul("h2", W, m.nonlin("x1", f(h1)))
    q = m.moment("q", h2**2)
    z = m.nonlin("z", h2 / sp.sqrt(q + as_number(eps)))
    m.moment("f", nV * f(z))
    m.output("f")
    return m


def linear_tasks(slopes, support_xs, query_xs) -> list:
    """A toy family of 1-d regression tasks for first-order MAML: task a has targets y = a·ξ;
    its support set is ``support_xs``, its query set ``query_xs`` (TP4 §9.2 uses a 1-hidden-layer
    linear μP network, e.g. ``mlp_program``'s model or :func:`mlp_with_biases` with φ = x)."""
    return [
        (([[x] for x in support_xs], [a * x for x in support_xs]),
         ([[x] for x in query_xs], [a * x for x in query_xs]))
        for a in slopes
    ]  # fmt: skip


def one_hidden_layer(phi: sp.Expr | None = None) -> Program:
    """h = ξ U, f = mean(nV ⊙ φ(h)): the 1-hidden-layer μP network of TP4 §9.2."""
    f = _phi(phi)
    m = Program("one_hidden_layer")
    U = m.param_vector("U", role="input")
    nV = m.param_vector("nV", role="output")
    (xi,) = m.input("xi")
    h = m.nonlin("h", xi * U)
    m.moment("f", nV * f(h))
    m.output("f")
    return m


EXAMPLES = {
    "residual": residual_mlp,
    "rnn": rnn,
    "biases": mlp_with_biases,
    "two_outputs": two_outputs,
    "normalized": normalized,
}
