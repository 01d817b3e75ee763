"""Feature-learning diagnostics in the limit (tensorprog.features; 001 §1, Table 1, Thm 4.5).

Expected values are derived by hand in each docstring (μP conventions of design.md §3 / TP4
Def. 5.1: h¹ = Σ_k ξ_k U_k with U_k, nV iid N(0, 1); W^l entries N(0, 1/n); MSE χ = f − y)
or come from finite-width training (tensorprog.training, which shares no code with the limit).
"""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest
import sympy as sp

from tensorprog.errors import ParametrizationError, TensorProgError
from tensorprog.features import feature_limit, min_eigenvalue
from tensorprog.training import train_mlp

R = sp.Rational


# --------------------------------------------------------------------------- λ_min
@pytest.mark.parametrize(
    "M, lam",
    [
        (sp.diag(3, R(1, 2), 7), R(1, 2)),
        (sp.Matrix([[2, 1], [1, 2]]), 1),  # eigenvalues 1, 3
        (sp.Matrix([[1, 1], [1, 1]]), 0),  # singular
        (sp.Matrix([[1, 2, 3], [2, 4, 6], [3, 6, 9]]), 0),  # rank one
    ],
)
def test_min_eigenvalue_rational_cases(M, lam):
    e = min_eigenvalue(M)
    assert e.exact == lam
    assert e.interval[0] <= lam <= e.interval[1]
    assert e.is_zero == (lam == 0)
    assert e.is_positive == (lam > 0)


def test_min_eigenvalue_irrational_is_certified():
    """[[1, 1/2, 0], [1/2, 1, 1/2], [0, 1/2, 1]]: eigenvalues 1 − √2/2, 1, 1 + √2/2."""
    M = sp.Matrix([[1, R(1, 2), 0], [R(1, 2), 1, R(1, 2)], [0, R(1, 2), 1]])
    e = min_eigenvalue(M)
    true = 1 - np.sqrt(2) / 2
    assert e.interval[0] <= sp.Rational(true) + R(1, 10**15)
    assert e.interval[1] >= sp.Rational(true) - R(1, 10**15)
    assert e.interval[1] - e.interval[0] <= R(1, 10**30)
    assert abs(e.value - true) < 1e-15
    assert sp.simplify(e.exact - (1 - sp.sqrt(2) / 2)) == 0
    assert e.is_positive


def test_min_eigenvalue_below_the_isolation_width_is_still_positive():
    """λ_min = 10⁻⁴⁰ sits below the 10⁻³⁰ isolation width (interval (0, hi]) but is not 0; an
    indefinite matrix's negative λ_min is neither zero nor positive."""
    e = min_eigenvalue(sp.diag(R(1, 10**40), 3))
    assert e.exact == R(1, 10**40) and e.is_positive and not e.is_zero
    e = min_eigenvalue(sp.Matrix([[1, 1], [1, 1 + R(1, 10**35)]]))  # λ_min ≈ 10⁻³⁵ / 2
    assert e.is_positive and not e.is_zero
    e = min_eigenvalue(sp.diag(-R(1, 10**40), 3))
    assert not e.is_positive and not e.is_zero


def test_min_eigenvalue_refuses_floats_and_asymmetry():
    with pytest.raises(TensorProgError, match="rational"):
        min_eigenvalue(sp.Matrix([[sp.Float(1.5)]]))
    with pytest.raises(TensorProgError, match="symmetric"):
        min_eigenvalue(sp.Matrix([[1, 2], [0, 1]]))


# --------------------------------------------------------------------------- μP by hand
def test_mup_depth1_linear_one_step_by_hand():
    """φ = x, ξ_0 = 1, y_0 = 1, η: f_0 = E[nV U] = 0, χ_0 = −1, so U_1 = U + η nV and at the
    probe ξ = 1: Z^{h_T} − Z^{h_0} = η nV. Change = η² E[nV²] / E[U²] = η²; joint Gram
    [[1, 1], [1, 1 + η²]]."""
    eta = R(1, 2)
    d = feature_limit("mup", 1, "x", [1], [1], eta, [[1]])
    lf = d.layers[1]
    assert lf.change == [eta**2]
    assert lf.joint == sp.Matrix([[1, 1], [1, 1 + eta**2]])
    lam = ((2 + eta**2) - sp.sqrt((2 + eta**2) ** 2 - 4 * eta**2)) / 2
    assert sp.simplify(lf.eig_joint.exact - lam) == 0
    assert d.feature_learning and d.method == "derived"


def test_mup_depth1_quadratic_one_step_by_hand():
    """φ = x²: f_0 = E[nV U²] = 0, χ_0 = −1, U_1 = U + η nV φ'(U) = U + 2η nV U, so
    ΔZ = 2η nV U and E[(ΔZ)²] = 4η² E[nV²] E[U²] = 4η² (independent); change 4η²."""
    eta = R(1, 3)
    lf = feature_limit("mup", 1, "x^2", [1], [1], eta, [[1]]).layers[1]
    assert lf.change_num == [4 * eta**2]
    assert lf.change_den == [1]


# --------------------------------------------------------------------------- kernel regime
PROBES = [[1, 0], [0, 1], [1, 1]]
H1 = sp.Matrix([[1, 0, 1], [0, 1, 1], [1, 1, 2]])  # ξ_i·ξ_j
# φ = x²: E[h_i² h_j²] = a_ii a_jj + 2 a_ij² (Isserlis) with a = H1.
H2_X2 = sp.Matrix(3, 3, lambda i, j: H1[i, i] * H1[j, j] + 2 * H1[i, j] ** 2)


@pytest.mark.parametrize("preset", ["ntp", "sp_lr_1/n"])
def test_kernel_regime_features_do_not_move(preset):
    """TP4 Thms 3.6/3.8: Δh = Θ(n^{-r}) → 0. Init Grams by hand: h¹ Gram = ξ·ξ', h² Gram
    = E[φ(h¹)φ(h¹')] = H2_X2 for φ = x² (W² has σ² = 1)."""
    d = feature_limit(preset, 2, "x^2", [[1, 0], [0, 1]], [1, -1], R(1, 2), PROBES)
    assert not d.feature_learning
    assert d.layers[1].init == H1 and d.layers[2].init == H2_X2
    for lf in d.layers.values():
        assert lf.change == [0, 0, 0]
        assert lf.final == lf.init
        assert lf.eig_joint.is_zero  # [[G, G], [G, G]] is singular
    # H2_X2 = [[3,1,4],[1,3,4],[4,4,12]]: det = 3(36−16) − (12−16) + 4(4−12) = 60 − (−4) − 32 = 32
    assert H2_X2.det() == 32 and d.layers[2].eig_final.is_positive and d.rich


def test_mup_init_grams_agree_with_the_same_hand_values():
    """μP's initial features are the same Gaussian process (only the updates differ)."""
    d = feature_limit("mup", 2, "x^2", [[1, 0], [0, 1]], [1, -1], R(1, 2), PROBES)
    assert d.layers[1].init == H1 and d.layers[2].init == H2_X2
    assert d.feature_learning and all(lf.moves for lf in d.layers.values())
    assert d.rich


def test_ip_collapses():
    """IP: W^2_0 → 0, so h²_0 = 0 and h²_T = ΔW² x¹_T = −η Σ_s χ_s dh²_s (x¹_s·x¹_T)/n lies in
    the span of the 2 backward vectors dh²_0, dh²_1 (2 training steps): its Gram over 3 probes
    has rank ≤ 2, so λ_min = 0 exactly, and the init Gram is 0."""
    d = feature_limit("ip", 2, "x/2 + x^2/4", [[1, 0], [0, 1]], [1, -1], R(1, 2), PROBES)
    lf = d.layers[2]
    assert lf.init == sp.zeros(3, 3)
    assert lf.eig_final.is_zero and not d.rich
    assert lf.final != sp.zeros(3, 3)  # the features did move: feature learning, collapsed
    assert d.feature_learning


def test_unsupported_parametrizations_are_refused():
    with pytest.raises(ParametrizationError, match="no feature limit|unstable|trivial"):
        feature_limit("sp", 2, "x", [[1, 0]], [1], 1, PROBES)
    with pytest.raises(TensorProgError):
        feature_limit("mup", 2, "x", [[1, 0]], [1], 1, PROBES, kind="z")
    with pytest.raises(TensorProgError):
        feature_limit("mup", 2, "x", [[1, 0]], [1], 1, [])


# --------------------------------------------------------------------------- finite width
def _finite_change(preset, depth, act, xs, ys, eta, probes, width, seeds, layer):
    out = []
    for s in seeds:
        r = train_mlp(depth, act, xs, ys, eta, width=width, seed=s, parametrization=preset,
                      probe_inputs=probes)  # fmt: skip
        h0, hT = r.features["h", layer, "init"], r.features["h", layer, "final"]
        out.append(((hT - h0) ** 2).mean(axis=0) / (h0**2).mean(axis=0))
    return np.array(out)


def test_mup_feature_change_matches_finite_width():
    """Depth 2, φ = x/2 + x²/4, 2 SGD steps, μP. Per seed the finite ratio is a ratio of two
    width-averages, each within O(n^{-1/2}) of its limit; over 16 seeds the mean has standard
    error se (measured) and an O(1/n) bias. Accept 5 se + limit/√n (the second term is a
    generous allowance for the bias). Measured: deviations ≤ 1.5 se (largest 0.0052 on a limit
    of 0.33); the tolerance stays below half the limit, so the kernel-regime answer 0 fails."""
    xs, ys, eta = [[1, 0], [0, 1]], [1, -1], R(1, 2)
    d = feature_limit("mup", 2, "x/2 + x^2/4", xs, ys, eta, PROBES)
    n, seeds = 2048, range(16)
    for layer in (1, 2):
        lim = np.array([float(v) for v in d.layers[layer].change])
        fin = _finite_change("mup", 2, "x/2 + x^2/4", xs, ys, F(1, 2), PROBES, n, seeds, layer)
        se = fin.std(axis=0, ddof=1) / np.sqrt(len(seeds))
        tol = 5 * se + lim / np.sqrt(n)
        assert np.all(np.abs(fin.mean(axis=0) - lim) < tol), (layer, fin.mean(axis=0), lim)
        assert np.all(tol < lim / 2)  # so that 0 (no feature learning) would fail


def test_ntp_feature_change_vanishes_with_width():
    """NTP: Δh = Θ(n^{-1/2}), so the squared change ratio is Θ(1/n): ×8 width should divide it
    by ≈ 8 (accept 4–16 for seed noise over 8 seeds; measured 10.4). μP's, at the same widths
    and seeds, converges to its nonzero limit instead (measured ratio 0.96)."""
    xs, ys = [[1, 0], [0, 1]], [1, -1]

    def change(preset, n):
        return _finite_change(preset, 2, "x/2 + x^2/4", xs, ys, F(1, 2), PROBES, n, range(8), 2)

    ratio = change("ntp", 256).mean() / change("ntp", 2048).mean()
    assert 4 < ratio < 16, ratio
    assert 0.75 < change("mup", 256).mean() / change("mup", 2048).mean() < 1.33


def test_ip_with_x2_learns_nothing():
    """IP with φ = x²: h²_0 = 0 and φ'(0) = 0, so dh² = nV φ'(h²_0) = 0 and dx¹ = W²ᵀ dh² = 0 at
    every step: no hidden layer moves, and every h² Gram is 0."""
    d = feature_limit("ip", 2, "x^2", [[1, 0], [0, 1]], [1, -1], R(1, 2), PROBES)
    assert not d.feature_learning
    assert d.layers[2].final == sp.zeros(3, 3)
    assert d.layers[1].change == [0, 0, 0]
