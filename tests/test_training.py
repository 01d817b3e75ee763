"""The direct finite-width trainer (tensorprog.training) on its own.

Expected values come from outside the trainer: central finite differences of a loss written
out here from scratch (so backprop is checked against numerical differentiation), the μP
learning rates of TP4 Definition 5.1 (ΔW¹ = −ηn∇, ΔW^l = −η∇, ΔW^{L+1} = −(η/n)∇; see the
module docstring of tensorprog.training), and elementary facts (seeds reproduce runs).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from tensorprog.errors import TensorProgError
from tensorprog.ir import sym
from tensorprog.training import train_mlp

X = sym("x")
N = 5


def plain_loss(params, xi, y, phi, loss, reduction="sum"):
    """Batch loss of the MLP with actual matrices params = [W1 (n×d), W2.., V (1×n)]."""
    a = np.asarray(xi, float).T
    for Wl in params[:-1]:
        a = phi(Wl @ a)
    f = (params[-1] @ a)[0]
    y = np.asarray(y, float)
    per = 0.5 * (f - y) ** 2 if loss == "mse" else np.log1p(np.exp(-y * f))
    return per.sum() if reduction == "sum" else per.mean()


def numeric_grad(params, k, fun, h=1e-6):
    g = np.zeros_like(params[k])
    for idx in np.ndindex(params[k].shape):
        plus = [p.copy() for p in params]
        minus = [p.copy() for p in params]
        plus[k][idx] += h
        minus[k][idx] -= h
        g[idx] = (fun(plus) - fun(minus)) / (2 * h)
    return g


@pytest.mark.parametrize("loss", ["mse", "logistic"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_one_sgd_step_is_mup_sgd_on_the_true_gradient(loss, reduction):
    rng = np.random.default_rng(0)
    d, L, B = 2, 3, 2
    U = rng.standard_normal((N, d))
    Ws = [rng.standard_normal((N, N)) / np.sqrt(N) for _ in range(L - 1)]
    nV = rng.standard_normal(N)
    draws = {"U1_0": U[:, 0], "U2_0": U[:, 1], "nV_0": nV, "W2": Ws[0], "W3": Ws[1]}
    xi = [[1.0, -0.5], [0.5, 2.0]]
    y = [1, -1]
    eta = 0.3
    res = train_mlp(
        L, sp.tanh(X), xi, y, eta, width=N, draws=draws, loss=loss, batch_size=B,
        batch_reduction=reduction,
    )
    params = [U] + Ws + [(nV / N)[None, :]]
    rates = [eta * N] + [eta] * (L - 1) + [eta / N]  # μP, TP4 Def. 5.1 with c = 0

    def fun(p):
        return plain_loss(p, xi, y, np.tanh, loss, reduction)

    for k in range(L + 1):
        expected = params[k] - rates[k] * numeric_grad(params, k, fun)
        np.testing.assert_allclose(res.weights[k + 1], expected, rtol=1e-6, atol=1e-8)
    # and f_0 is the plain forward pass
    a = np.asarray(xi).T
    for Wl in params[:-1]:
        a = np.tanh(Wl @ a)
    np.testing.assert_allclose(res.f[0], (params[-1] @ a)[0], rtol=1e-12)


def test_decoupled_backward_uses_the_copy_and_shares_the_update():
    """Decoupled (TP4 Eq. 20): gradients flow through W̃ (not W₀ᵀ); both the forward matrix and
    the backward matrix receive the same ΔW (resp. ΔWᵀ)."""
    rng = np.random.default_rng(1)
    U = rng.standard_normal((N, 1))
    W = rng.standard_normal((N, N)) / np.sqrt(N)
    Wt = rng.standard_normal((N, N)) / np.sqrt(N)
    nV = rng.standard_normal(N)
    draws = {"U_0": U[:, 0], "nV_0": nV, "W2": W, "Wtilde2": Wt}
    eta = 0.5
    res = train_mlp(2, X**2, [1.5], [1], eta, width=N, draws=draws, decoupled=True)
    # by hand: h1 = U ξ, x1 = h1², h2 = W x1, x2 = h2², f = V x2, χ = f − y
    xi, V = 1.5, nV / N
    h1 = U[:, 0] * xi
    x1 = h1**2
    h2 = W @ x1
    f = V @ h2**2
    chi = f - 1
    dh2 = chi * V * 2 * h2  # ∂loss/∂h2
    dh1 = (Wt @ dh2) * 2 * h1  # through the copy W̃
    np.testing.assert_allclose(res.weights[2], W - eta * np.outer(dh2, x1), rtol=1e-12)
    np.testing.assert_allclose(res.backward[2], Wt - eta * np.outer(x1, dh2), rtol=1e-12)
    np.testing.assert_allclose(res.weights[1][:, 0], U[:, 0] - eta * N * dh1 * xi, rtol=1e-12)
    np.testing.assert_allclose(res.weights[3][0], V - eta / N * chi * h2**2, rtol=1e-12)


def test_seed_reproduces_and_differs():
    args = (2, X, [1, -1], [1, 1], Fraction(1, 10))
    a = train_mlp(*args, width=32, seed=3).f
    b = train_mlp(*args, width=32, seed=3).f
    c = train_mlp(*args, width=32, seed=4).f
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_mup_init_scales():
    """f_0 = (1/n) Σ nV_α x_α has variance E[x²]/n at init (nV ~ N(0,1) independent of x);
    with φ = x and ξ = 1 at depth 1, Var f_0 = 1/n: check n·Var over seeds ≈ 1."""
    n, K = 64, 400
    f0 = np.array([train_mlp(1, X, [1], [0], 0, width=n, seed=s).f[0, 0] for s in range(K)])
    # n·Var is a sample variance of K approx-normal(0,1) draws: stderr ≈ sqrt(2/K) ≈ 0.07
    assert abs(n * f0.var() - 1) < 5 * np.sqrt(2 / K)


def test_activation_forms_agree():
    args = ([1, 2], [1, -1], Fraction(1, 5))
    a = train_mlp(2, sp.tanh(X), *args, width=16, seed=0).f
    b = train_mlp(2, (np.tanh, lambda v: 1 - np.tanh(v) ** 2), *args, width=16, seed=0).f
    np.testing.assert_allclose(a, b, rtol=1e-13)


def test_text_activation():
    pytest.importorskip("tensorprog.lang")
    a = train_mlp(2, "tanh(x)", [1, 2], [1, -1], "1/5", width=16, seed=0).f
    b = train_mlp(2, sp.tanh(X), [1, 2], [1, -1], Fraction(1, 5), width=16, seed=0).f
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(depth=0), "depth"),
        (dict(width=0), "width"),
        (dict(targets=[1]), "targets"),
        (dict(batch_size=3), "batch_size"),
        (dict(loss="hinge"), "unknown loss"),
        (dict(parametrization="ntk"), "parametrization"),
        (dict(lr="1/0"), "cannot read"),
        (dict(activation=sp.Integer(2)), "activation"),
        (dict(init_multipliers=[1, 1]), "multipliers"),
        (dict(draws={"U_0": np.zeros(3)}), "shape"),
    ],
)
def test_errors(kwargs, match):
    base = dict(
        depth=2, activation=X, inputs=[1, -1], targets=[1, 1], lr=Fraction(1, 10), width=8
    )
    base.update(kwargs)
    with pytest.raises(TensorProgError, match=match):
        train_mlp(**base)
