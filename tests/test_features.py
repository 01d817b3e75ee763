"""Feature-learning diagnostics in the limit (tensorprog.features;
Chen, Yang, Zhao & Gu, arXiv:2503.09565, §1, Table 1, Theorem 4.5).

Expected values are derived by hand in each docstring (μP conventions of docs/mlp.md / TP4
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


def test_kernel_regime_init_grams_by_hand_in_odd_input_dimensions():
    """The first-layer convention, derived from TP4 §3.1 and docs/mlp.md (no 1/d): a stable
    parametrization has a_1 + b_1 = 0, so W¹ has i.i.d. N(0, 1) entries (the builder's columns
    U_k ~ N(0, 1), the trainer's std n^{-(a_1+b_1)} = 1) and h¹(ξ) = Σ_k ξ_k U_k, hence

        E[Z^{h¹(ξ)} Z^{h¹(ξ')}] = Σ_{k,m} ξ_k ξ'_m E[U_k U_m] = ξ·ξ'   (not ξ·ξ'/d).

    Layer 2 (W² entries N(0, 1/n), σ² = 1): E[Z^{h²(ξ)} Z^{h²(ξ')}] = E[φ(h¹(ξ)) φ(h¹(ξ'))];
    with φ = x² and a = (ξ_i·ξ_j), Isserlis gives a_ii a_jj + 2 a_ij². Dimensions 3 and 5 are
    not squares, which exercises the NNGP code's stax-style 1/d (tensorprog.kernels pads the
    inputs to undo it); the depth-1 x¹ Gram (kind="x") is the same Isserlis formula."""
    P = [[1, 1, 1], [1, -1, 0], [0, 0, 2]]
    a = sp.Matrix([[3, 0, 2], [0, 2, 0], [2, 0, 4]])  # ξ_i·ξ_j by hand
    h2 = sp.Matrix([[27, 6, 20], [6, 12, 8], [20, 8, 48]])  # a_ii a_jj + 2 a_ij², by hand
    for preset in ("ntp", "sp_lr_1/n", "mup"):
        d = feature_limit(preset, 2, "x^2", [[1, 0, 0], [0, 1, 0]], [1, -1], R(1, 2), P)
        assert d.layers[1].init == a and d.layers[2].init == h2, preset
    # d = 5: |ξ1|² = 6, |ξ2|² = 4, ξ1·ξ2 = 3 → [[36 + 72, 24 + 18], [., 16 + 32]]
    d = feature_limit("ntp", 1, "x^2", [[1, 0, 0, 0, 0]], [1], R(1, 2),
                      [[1, 2, 0, 0, 1], [0, 1, 1, 1, 1]], kind="x")  # fmt: skip
    assert d.layers[1].init == sp.Matrix([[108, 42], [42, 48]])
    assert d.layers[1].final == d.layers[1].init and d.layers[1].change == [0, 0]


def test_mup_depth2_linear_one_step_by_hand():
    """Depth 2, φ = x, d = 1, one SGD step on ξ = 1 → y = 1, probe ξ = 1 (docs/mlp.md).
    f_0 = E[nV Ẑ^{WU}] = 0, χ_0 = −1; backward dh² = nV, dh¹ = Wᵀ nV. Updates:
    U_1 = U + η WᵀnV, W_1 = W + η nV x¹_0ᵀ/n. At the probe:

    * h¹_T − h¹_0 = η WᵀnV, and Z^{WᵀnV} = Ẑ^{WᵀnV} (nV does not depend on W: no ZDot), so
      E[(ΔZ^{h¹})²] = η² E[nV²] = η²; E[(Z^{h¹_0})²] = E[U²] = 1.
    * h²_T = W x¹_T + η nV (x¹_0·x¹_T)/n with x¹_T = U + η WᵀnV. ZDot: Z^{W Wᵀ nV} =
      Ẑ^{W WᵀnV} + σ² E[∂Z^{WᵀnV}/∂Ẑ^{WᵀnV}] nV = Ẑ^{W WᵀnV} + nV; the moment
      (x¹_0·x¹_T)/n → E[U (U + η Ẑ^{WᵀnV})] = 1. So ΔZ^{h²} = η Ẑ^{W WᵀnV} + 2η nV, whose
      terms are independent (Ẑ^{W·} family vs initial vector) with variances η² E[(Ẑ^{WᵀnV})²]
      = η² and 4η²: change 5η², joint Gram [[1, 1], [1, 1 + 5η²]] (E[Z^{h²_0} ΔZ^{h²}] =
      η E[U Ẑ^{WᵀnV}] = 0 since Cov(Ẑ^{WU}, Ẑ^{W WᵀnV}) = E[U Z^{WᵀnV}] = 0)."""
    eta = R(1, 3)
    d = feature_limit("mup", 2, "x", [1], [1], eta, [[1]])
    assert d.layers[1].change == [eta**2]
    assert d.layers[2].change == [5 * eta**2]
    assert d.layers[2].joint == sp.Matrix([[1, 1], [1, 1 + 5 * eta**2]])
    assert d.outputs["f_0"] == 0


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
    by ≈ 8 (accept 4–16 for seed noise over 8 seeds; measured 11.0). μP's, at the same widths
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


def _finite_grams(preset, width, seeds):
    """Per layer, arrays over seeds of the empirical final Gram (1/n) H_Tᵀ H_T and of the
    paired change K_T − K_0 (same network)."""
    fin, dif = {1: [], 2: []}, {1: [], 2: []}
    for s in seeds:
        r = train_mlp(2, "x/2 + x^2/4", [[1, 0], [0, 1]], [1, -1], F(1, 2), width=width, seed=s,
                      parametrization=preset, probe_inputs=PROBES)  # fmt: skip
        for layer in fin:
            H0, HT = r.features["h", layer, "init"], r.features["h", layer, "final"]
            fin[layer].append(HT.T @ HT / width)
            dif[layer].append((HT.T @ HT - H0.T @ H0) / width)
    return {l: np.array(v) for l, v in fin.items()}, {l: np.array(v) for l, v in dif.items()}


def _within(samples, target, scale, width):
    """|mean − target| < 5 se + scale/√n, entrywise (the tolerance of the Gram tests)."""
    se = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
    tol = 5 * se + scale / np.sqrt(width)
    return np.abs(samples.mean(axis=0) - target) < tol, tol


def _exact(M) -> np.ndarray:
    return np.array(M.evalf(30), dtype=float)


@pytest.mark.parametrize("width", [256, 2048])
def test_gram_entries_match_finite_width(width):
    """The exact limit Grams against real networks (train_mlp), default `features` setting,
    16 seeds per width. Per seed a Gram entry (1/n) Σ_α h_α(ξ_i) h_α(ξ_j) is an average over n
    coordinates: it fluctuates by O(n^{-1/2}) around a mean that is within O(1/n) of the limit
    (the O(n^{-1/2}) term of the master theorem is a centred fluctuation). The test allows
    5 standard errors of the 16-seed mean (measured, so it scales as n^{-1/2}/4) plus a bias
    allowance scale/√n, deliberately looser than O(1/n) because the 1/n constant is unknown;
    scale = max|limit entry| of the quantity compared.

    * μP, final Gram K_T: the exact derived value.
    * μP, paired change K_T − K_0 (same network, so the init noise cancels: se ≤ 0.015 at
      n = 2048 against entries up to 0.19). This is the check that can fail: the
      kernel-regime answer K_T − K_0 = 0 is rejected at n = 2048 (asserted below).
    * NTP: K_T against its kernel-regime limit K_T = K_0 (the initial Gram), and K_T − K_0
      against 0.

    Measured, largest |deviation| / tolerance over all entries: 0.36 at n = 256, 0.58 at
    2048; μP K_T − K_0 within 1.9 se (256) and 1.0 se (2048), NTP K_T − K_0 ≤ 0.0071 and
    ≤ 0.0008 in absolute value. One outlier is worth knowing: seeds 0–15 at n = 2048 draw W¹
    columns whose mean overlap (1/n)u₁·u₂ is 0.0257, 4.7 true standard errors (1/(4√n)) from
    0 (plain numpy, checked without the trainer), so the h¹ off-diagonal K_T entries of μP and
    NTP sit 5.8 and 6.8 *measured* se off; the allowance (0.043) absorbs it, and the paired
    K_T − K_0 cancels it."""
    mup = feature_limit("mup", 2, "x/2 + x^2/4", [[1, 0], [0, 1]], [1, -1], R(1, 2), PROBES)
    ntp = feature_limit("ntp", 2, "x/2 + x^2/4", [[1, 0], [0, 1]], [1, -1], R(1, 2), PROBES)
    fin, dif = _finite_grams("mup", width, range(16))
    nfin, ndif = _finite_grams("ntp", width, range(16))
    for layer in (1, 2):
        K_T = _exact(mup.layers[layer].final)
        dK = _exact(mup.layers[layer].final - mup.layers[layer].init)
        ok, _ = _within(fin[layer], K_T, np.abs(K_T).max(), width)
        assert ok.all(), (layer, fin[layer].mean(axis=0), K_T)
        ok, tol = _within(dif[layer], dK, np.abs(dK).max(), width)
        assert ok.all(), (layer, dif[layer].mean(axis=0), dK)
        if width == 2048:  # the kernel-regime value 0 would be rejected
            assert not (np.abs(dif[layer].mean(axis=0)) < tol).all(), layer

        K0 = _exact(ntp.layers[layer].final)  # = the initial Gram (Thm 3.8)
        assert _within(nfin[layer], K0, np.abs(K0).max(), width)[0].all(), layer
        assert _within(ndif[layer], 0 * K0, np.abs(K0).max(), width)[0].all(), layer


def test_ip_collapse_at_finite_width():
    """The limit (as printed by `tensorprog features --table`, same setting) has a singular
    final h² Gram: λ_min = 0 exactly. At width n, h²_T = W²_0 x¹_T + ΔW² x¹_T where W²_0 has
    N(0, n⁻²) entries (Chen et al. Table 2), so its term is O(n^{-1/2}) per coordinate, while
    ΔW² x¹_T lies in the span of the two backward vectors: the normalized Gram (1/n)HᵀH / tr is a
    rank-2 Θ(1) matrix plus Θ(1/n), and its λ_min should fall like 1/n — ×4 width, ÷4.
    Accept ÷ > 2.5 (n^{-1/2} would give 2) and n·λ_min/tr in [1, 10] at both widths.
    Measured (8 seeds): 0.00666 ± 0.0002 at 512, 0.00194 ± 0.00006 at 2048 (÷ 3.4;
    n·λ_min/tr = 3.4, 4.0). μP's normalized λ_min, by contrast, stays at its positive limit
    λ_min(K_T)/tr(K_T) = 0.0348: measured 0.0349 ± 0.0009 at 2048 (tolerance 5 se + limit/√n)."""

    def lam(preset, n):
        out = []
        for s in range(8):
            r = train_mlp(2, "x/2 + x^2/4", [[1, 0], [0, 1]], [1, -1], F(1, 2), width=n, seed=s,
                          parametrization=preset, probe_inputs=PROBES)  # fmt: skip
            H = r.features["h", 2, "final"]
            K = H.T @ H / n
            out.append(np.linalg.eigvalsh(K)[0] / np.trace(K))
        return np.array(out)

    D = feature_limit("ip", 2, "x/2 + x^2/4", [[1, 0], [0, 1]], [1, -1], R(1, 2), PROBES)
    assert D.layers[2].eig_final.is_zero and not D.rich
    ip512, ip2048 = lam("ip", 512), lam("ip", 2048)
    assert ip512.mean() / ip2048.mean() > 2.5
    for n, v in ((512, ip512), (2048, ip2048)):
        assert 1 < n * v.mean() < 10, (n, v.mean())

    M = feature_limit("mup", 2, "x/2 + x^2/4", [[1, 0], [0, 1]], [1, -1], R(1, 2), PROBES)
    K = M.layers[2].final
    target = M.layers[2].eig_final.value / float(K.trace())
    mup = lam("mup", 2048)
    assert _within(mup, target, target, 2048)[0]
    assert ip2048.mean() < target / 10  # IP's is far below the rich value
