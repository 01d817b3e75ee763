"""Exact limits of the MLP + SGD programs against independent derivations.

* depth 1, φ = x: TP4 Corollary 6.2's recursion, run here with Fractions (the corollary is
  stated for learning rate 1; with η each update is multiplied by η, as in Theorem 6.1's
  derivation: nV ← nV − ηχx, U ← U − ηχξ nV φ'(h)).
* depth 1, φ = x², ξ₀ = y₀ = 1: f₁ = 7η + 12η³ (by hand, TP4 Theorem 6.1 with φ = x²).
* depth 2, φ = x, one step, hand derivations from TP4 §6.2–6.3: with χ₀ = −y₀ (f₀ = 0),
  decoupled f₁ = −2ηχ₀ξ₀ξ₁ (Thm 6.3: E[nV₁ Z^{h̄₁}] with Z^{h̄₁} = Z^{Wx₁} − ηχ₀ nV E[x₀x₁]),
  normal f₁ = −3ηχ₀ξ₀ξ₁ (Eq. 28: the extra Ż^{Wx₁} = −ηχ₀ξ₀ξ₁ Z^{nV}).
"""

from __future__ import annotations

from fractions import Fraction as F

import pytest
import sympy as sp

from tensorprog.builders import mlp_program
from tensorprog.ir import sym
from tensorprog.zcalc import derive_limit

X = sym("x")


def corollary_6_2(xs, ys, eta, eval_xs=()):
    """f̊_t for t < T, then f̊_T(ξ) for ξ in eval_xs; MSE loss (χ = f − y)."""
    A, B, C, D = F(1), F(0), F(0), F(1)
    fs = []
    for xi, y in zip(xs, ys):
        f = (A * C + B * D) * xi
        fs.append(f)
        chi = f - y
        (A, B), (C, D) = (A - eta * chi * xi * C, B - eta * chi * xi * D), (
            C - eta * chi * xi * A,
            D - eta * chi * xi * B,
        )
    return fs, [(A * C + B * D) * xi for xi in eval_xs]


def test_depth1_linear_matches_corollary_6_2_exactly():
    xs = [F(1), F(-1), F(1, 2), F(2), F(-3, 2), F(1), F(1), F(-1, 3), F(1), F(2, 3)]
    ys = [F(1), F(-1), F(1, 2), F(1), F(-1), F(1, 2), F(-2), F(1), F(0), F(1, 3)]
    eta = F(1, 3)
    evals = [F(1), F(-5, 2)]
    program = mlp_program(1, X, xs, ys, eta, eval_inputs=evals)
    limit = derive_limit(program)
    fs, fe = corollary_6_2(xs, ys, eta, evals)
    assert len(fs) == 10
    for t, f in enumerate(fs):
        got = limit.scalars[f"f_{t}"]
        assert got.is_Rational and got == sp.Rational(f.numerator, f.denominator), t
        y = ys[t]
        assert limit.scalars[f"loss_{t}"] == sp.Rational(((f - y) ** 2 / 2).numerator,
                                                          ((f - y) ** 2 / 2).denominator)
    for e, f in enumerate(fe):
        assert limit.scalars[f"f_10_{e}"] == sp.Rational(f.numerator, f.denominator)
    # the trajectory is not trivial
    assert len({f for f in fs}) > 5


@pytest.mark.parametrize("eta", [F(1, 50), F(1, 10), F(2, 7)])
def test_depth1_quadratic_first_step(eta):
    expected = 7 * eta + 12 * eta**3
    exp = sp.Rational(expected.numerator, expected.denominator)
    lim = derive_limit(mlp_program(1, X**2, [1, 1], [1, 5], eta)).scalars
    assert lim["f_0"] == 0 and lim["f_1"] == exp
    # the same value through an eval input after one step
    lim = derive_limit(mlp_program(1, X**2, [1], [1], eta, eval_inputs=[1])).scalars
    assert lim["f_1_0"] == exp
    if eta == F(1, 50):
        assert exp == sp.Rational(2189, 15625)


@pytest.mark.parametrize("xi0, xi1, y0", [(1, -1, 1), (F(1, 2), 3, -2)])
@pytest.mark.parametrize("decoupled, factor", [(True, -2), (False, -3)])
def test_depth2_linear_first_step_hand_derivation(xi0, xi1, y0, decoupled, factor):
    eta = F(1, 7)
    chi0 = -F(y0)
    expected = factor * eta * chi0 * F(xi0) * F(xi1)
    lim = derive_limit(mlp_program(2, X, [xi0, xi1], [y0, 0], eta, decoupled=decoupled))
    assert lim.scalars["f_1"] == sp.Rational(expected.numerator, expected.denominator)


def test_batch_sum_vs_mean_limits():
    """A batch of two copies of one example with 'mean' is one step on that example; with
    'sum' it is one step at twice the learning rate (exact, by linearity of the update)."""
    eta = F(1, 20)
    one = derive_limit(mlp_program(2, X**2, [1, 1], [1, 1], eta)).scalars["f_1"]
    two_lr = derive_limit(mlp_program(2, X**2, [1, 1], [1, 1], 2 * eta)).scalars["f_1"]
    mean = derive_limit(
        mlp_program(2, X**2, [1, 1, 1, 1], [1, 1, 1, 1], eta, batch_size=2,
                    batch_reduction="mean")
    ).scalars
    summ = derive_limit(
        mlp_program(2, X**2, [1, 1, 1, 1], [1, 1, 1, 1], eta, batch_size=2)
    ).scalars
    assert mean["f_1_0"] == mean["f_1_1"] == one
    assert summ["f_1_0"] == two_lr
    assert one != two_lr


def test_logistic_limit_exactness_is_reported():
    """χ₀ = L'(0, y) = −y/2 is rational, so f₁ stays rational; the loss log(1 + e^{−yf}) is
    exact but irrational and said to be so."""
    lim = derive_limit(mlp_program(1, X, [1, 1], [1, 1], F(1, 2), loss="logistic"))
    # depth-1 linear with χ₀ = −1/2: Corollary 6.2 gives f₁ = 2·(1/2)·(1/2) = 1/2
    assert lim.scalars["f_1"] == sp.Rational(1, 2)
    assert lim.scalars["loss_0"] == sp.log(2)
    assert lim.is_exact("loss_0") and not lim.scalars["loss_0"].is_Rational
