"""Limits of generated training programs: one-step values derived by hand, and agreement with
the direct finite-width trainer (tensorprog.transforms.direct) as the width grows.

Hand derivations (μP, φ = x, MSE, learning rate η, first example ξ with target y, so f₀ → 0 and
χ₀ = −y; ε := ηχ₀; all initial vectors N(0, 1), matrices N(0, 1/n)). The first-order (kernel)
part of f₁(ξ') is −ε Σ_params ⟨∂f(ξ), ∂f(ξ')⟩ in each parameter's Θ(1) units, and for these
linear networks the ε² terms vanish (each pairs a W-family Gaussian with an independent one).
The ZDot terms are what make the hidden-matrix contributions come out right: in the RNN, e.g.,
Z^{W B} = Ẑ^{W B} + Z^{A} for B = Ẑ^{Wᵀ A}; dropping them changes every coupled value below.

RNN (s¹ = aU, s² = W s¹ + bU, s³ = W s² + cU, f = mean(nV s³); ξ = (a, b, c), ξ' = (a', b', c')):
backward s̄³ = nV, s̄² = Wᵀ nV =: A, s̄¹ = Wᵀ A =: B (A, B, nV, U iid N(0,1) in the limit);
contributions: nV: E[s³ s³'] = aa' + bb' + cc'; U: E[(aB + bA + c nV)(a'B + b'A + c'nV)] =
aa' + bb' + cc'; W (two uses, W gradient A s¹ᵀ + nV s²ᵀ): E[s¹s¹'] + E[s²s²'] = 2aa' + bb'.
So f₁ = −ε (4aa' + 3bb' + 2cc'). Decoupled (backprop through an independent W̃): A, B are
W̃-family, so W A and W B have no ZDot part and the chain through U ↦ W ↦ W only keeps its
direct term: f₁ = −ε · 2(aa' + bb' + cc').

Residual depth 3 (h¹ = ξU, h² = h¹ + W² h¹, h³ = h² + W³ h², f = mean(nV h³)):
h̄³ = nV, h̄² = nV + W³ᵀnV, h̄¹ = h̄² + W²ᵀh̄², E[(h̄²)²] = 2, E[(h̄¹)²] = 4, E[(h³)²] = 4ξ²,
E[(h²)²] = 2ξ²; contributions: nV 4ξξ', U 4ξξ', W³ E[nV²]E[h²h²'] = 2ξξ', W² E[(h̄²)²]E[h¹h¹'] =
2ξξ'. So f₁ = −12 ε ξξ' = 12 η y ξξ'.
"""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest

from tensorprog.ir import sym
from tensorprog.transforms import train_direct, train_program
from tensorprog.transforms.examples import residual_mlp, rnn
from tensorprog.zcalc import derive_limit

X = sym("x")


@pytest.mark.parametrize(
    "xi, xi2, y",
    [((1, 2, 1), (1, 1, 1), 1), ((F(1, 2), -1, 2), (3, F(1, 3), -1), F(-3, 2))],
)
def test_rnn_one_step_by_hand(xi, xi2, y):
    eta = F(1, 10)
    (a, b, c), (a2, b2, c2) = xi, xi2
    eps = eta * (0 - y)
    for decoupled, expected in [
        (False, -eps * (4 * a * a2 + 3 * b * b2 + 2 * c * c2)),
        (True, -eps * 2 * (a * a2 + b * b2 + c * c2)),
    ]:
        p = train_program(rnn(), ([xi, xi2], [y, 0]), lr=eta, decoupled=decoupled)
        lim = derive_limit(p)
        assert lim["f_0"] == 0
        assert lim["f_1"] == expected, decoupled


def test_rnn_coupled_and_decoupled_differ_by_the_zdot_terms():
    """With ξ = (1, 2, 1), ξ' = (1, 1, 1), y = 1, η = 1/10: coupled 12/10, decoupled 8/10."""
    data = ([(1, 2, 1), (1, 1, 1)], [1, 0])
    coupled = derive_limit(train_program(rnn(), data, lr=F(1, 10)))["f_1"]
    decoupled = derive_limit(train_program(rnn(), data, lr=F(1, 10), decoupled=True))["f_1"]
    assert (coupled, decoupled) == (F(12, 10), F(8, 10))


@pytest.mark.parametrize("xi, xi2, y", [(2, F(-1, 3), F(1, 2)), (1, 1, 1), (F(3, 2), -2, -1)])
def test_residual_one_step_by_hand(xi, xi2, y):
    eta = F(1, 10)
    lim = derive_limit(train_program(residual_mlp(), ([[xi], [xi2]], [y, 0]), lr=eta))
    assert lim["f_0"] == 0
    assert lim["f_1"] == 12 * eta * y * xi * xi2


# ---------------------------------------------------------------- limit vs finite width
def finite_runs(model, data, opts, width, seeds, names):
    vals = [
        [train_direct(model, data, width=width, rng=1000 + s, **opts).outputs()[k] for k in names]
        for s in range(seeds)
    ]
    return np.array(vals)


def check_against_width(model, data, opts, width, seeds, names, z=5.0, bias=10.0):
    """The mean of ``seeds`` direct-trainer runs at ``width`` agrees with the limit within
    z·(sample std)/√seeds + bias·max(1, |limit|)/width: the finite-width mean is the limit plus
    an O(1/n) bias, and its seed-to-seed spread is O(n^{-1/2}); z = 5 is beyond the two-sided
    1e-4 quantile of Student's t with ≥ 15 degrees of freedom (fixed seeds: no flakes)."""
    lim = derive_limit(train_program(model, data, **opts), mode="float")
    runs = finite_runs(model, data, opts, width, seeds, names)
    mean, se = runs.mean(0), runs.std(0, ddof=1) / np.sqrt(seeds)
    for k, name in enumerate(names):
        L = float(lim[name])
        tol = z * se[k] + bias * max(1.0, abs(L)) / width
        assert tol < max(0.5 * abs(L), 0.05), (name, tol, L)  # the check can fail
        assert abs(mean[k] - L) <= tol, (name, mean[k], L, tol)


CASES = {
    "residual-x": (residual_mlp(phi=X), ([[1], [-1]], [1, -1]), dict(lr=F(1, 10))),
    "residual-x2": (residual_mlp(phi=X**2), ([[F(1, 2)], [F(-1, 2)]], [1, -1]),
                    dict(lr=F(1, 5))),
    "rnn-x": (rnn(phi=X), ([[1, 2, 1], [1, 1, 1]], [1, -1]), dict(lr=F(1, 10))),
    "rnn-x2": (rnn(phi=X**2), ([[F(1, 2), F(-1, 2), F(1, 2)], [F(1, 2), F(1, 2), F(-1, 2)]],
                               [1, -1]), dict(lr=F(1, 5))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_limit_matches_direct_trainer_width_1024(case):
    """f₁ (one step) and the eval output after two steps; with φ = x² the one-step value is
    small next to its seed spread at this width, so only the eval output is checked there."""
    model, data, opts = CASES[case]
    opts = dict(opts, eval_inputs=data[0][:1])
    names = ["f_2_0"] if case.endswith("x2") else ["f_1", "f_2_0"]
    check_against_width(model, data, opts, 1024, 16, names)


@pytest.mark.slow
def test_limit_matches_direct_trainer_width_8192():
    """RNN (φ = x) at width 8192, 4 seeds: z = 9 is beyond the two-sided 0.5% quantile of
    Student's t with 3 degrees of freedom."""
    model, data, opts = CASES["rnn-x"]
    opts = dict(opts, eval_inputs=data[0][:1])
    check_against_width(model, data, opts, 8192, 4, ["f_1", "f_2_0"], z=9.0)
