"""Numeric limits of μP training against an independent finite-width training.

The program is written here by hand (TP4 §6.3 extended to T steps, conventions of docs/mlp.md;
no builder involved), and the reference is a plain numpy network trained by real backprop and
SGD on actual n × n matrices — it shares no code with tensorprog.

μP for depth 2 (TP4 Def. 5.1, all constants 1): h¹ = ξU, x¹ = φ(h¹), h² = W x¹, x² = φ(h²),
f = W³x² with U ~ N(0, 1), W ~ N(0, 1/n), W³ = nV/n, nV ~ N(0, 1); SGD on the loss ½(f − y)²
with learning rate η moves W¹ by −ηn∇, W² by −η∇ and W³ by −(η/n)∇.
"""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest
import sympy as sp

from tensorprog import Program, derive_limit

ETA = F(1, 2)
XS = [F(1), F(-1), F(1, 2), F(2), F(-3, 2), F(1)]
YS = [F(1), F(-1), F(1, 2), F(1), F(-1), F(1, 2)]


def depth2_program(phi, eta, xs, ys, decoupled: bool = False) -> Program:
    """T steps of batch-1 SGD, written out with the TP4 Eq. (24) expansion of W_t:
    W_t x = W_0 x − Σ_s η χ_s dh²_s (x¹_s·x)/n and W_tᵀ d = W_0ᵀ d − Σ_s η χ_s x¹_s (dh²_s·d)/n."""
    x = sp.Symbol("x", real=True)
    dphi = sp.diff(phi, x)
    p = Program("depth2_steps")
    e = p.scalar("eta", eta)
    U, nV = p.vector("U_0"), p.vector("nV_0")
    W = p.matrix("W")
    back = p.matrix("Wt") if decoupled else W.T
    hist: list[tuple] = []  # (χ_s, x¹_s, dh²_s)
    for t, (xi, y) in enumerate(zip(xs, ys)):
        h1 = p.nonlin(f"h1_{t}", xi * U)
        x1 = p.nonlin(f"x1_{t}", phi.subs(x, h1))
        g = p.matmul(f"Wx_{t}", W, x1)
        corr = [e * c * p.moment(f"xx_{s}_{t}", xs_ * x1) * d for s, (c, xs_, d) in
                enumerate(hist)]
        h2 = p.nonlin(f"h2_{t}", g - sp.Add(*corr))
        x2 = p.nonlin(f"x2_{t}", phi.subs(x, h2))
        f = p.moment(f"f_{t}", nV * x2)
        chi = p.scalar_op(f"chi_{t}", f - y)
        dh2 = p.nonlin(f"dh2_{t}", nV * dphi.subs(x, h2))
        gb = p.matmul(f"Wtd_{t}", back, dh2)
        corr = [e * c * p.moment(f"dd_{s}_{t}", d * dh2) * xs_ for s, (c, xs_, d) in
                enumerate(hist)]
        dx1 = p.nonlin(f"dx1_{t}", gb - sp.Add(*corr))
        dh1 = p.nonlin(f"dh1_{t}", dx1 * dphi.subs(x, h1))
        hist.append((chi, x1, dh2))
        if t + 1 < len(xs):
            U = p.nonlin(f"U_{t + 1}", U - e * chi * xi * dh1)
            nV = p.nonlin(f"nV_{t + 1}", nV - e * chi * x2)
    p.output(*[f"f_{t}" for t in range(len(xs))])
    return p


def train_depth2_tanh(n: int, seed: int, xs, ys, eta: float) -> np.ndarray:
    """The actual width-n network in μP, trained by SGD with backprop; returns f_t (before
    update t) for every step."""
    rng = np.random.default_rng(seed)
    U = rng.standard_normal(n)  # W¹ (n × 1): N(0, 1) in μP
    W = rng.standard_normal((n, n)) / np.sqrt(n)  # W²: N(0, 1/n)
    v = rng.standard_normal(n) / n  # W³ = nV/n
    fs = []
    for xi, y in zip(map(float, xs), map(float, ys)):
        h1 = xi * U
        x1 = np.tanh(h1)
        h2 = np.einsum("ij,j->i", W, x1)  # W @ x1 (einsum: BLAS gemv is erratic here)
        x2 = np.tanh(h2)
        f = float(np.sum(v * x2))
        fs.append(f)
        chi = f - y  # ∂loss/∂f
        g_h2 = chi * v * (1 - x2**2)
        g_x1 = np.einsum("ij,i->j", W, g_h2)  # Wᵀ g_h2
        g_h1 = g_x1 * (1 - x1**2)
        # gradients (of U, W, v) taken at the current weights, then the μP step
        gU, gv = g_h1 * xi, chi * x2
        W -= (eta * g_h2)[:, None] * x1[None, :]
        U -= eta * n * gU
        v -= eta / n * gv
    return np.array(fs)


@pytest.fixture(scope="module")
def numeric_limit():
    p = depth2_program(sp.tanh(sp.Symbol("x", real=True)), ETA, XS, YS)
    lim = derive_limit(p, mode="numeric", particles=2**20, batches=16, seed=7)
    assert lim.method == "mc" and lim.mode == "numeric"
    return p, lim


# Width, seed count. Cost ~0.04 s per run at n = 1024, ~0.25 s at n = 2048.
RUNS = [(1024, 48), (2048, 24)]
#: Allowance for the O(1/n) finite-width bias, as C/n. The bias is a second-order effect of the
#: O(1/√n) fluctuations of the moments feeding later steps: ½ g'' Var ≈ ½ |g''| s²/n with
#: s = √n·sd(f_t) ≈ 0.5 measured here, so C = 4 allows curvatures |g''| up to 32. Measured:
#: |mean_n − limit|·n stays below ~2.5 for n = 512…2048 within noise.
BIAS_C = 4.0


def test_depth2_tanh_matches_finite_width_training(numeric_limit):
    """|limit − seed mean| ≤ 4 √(se_lim² + se_n²) + C/n for every step and both widths."""
    p, lim = numeric_limit
    T = len(XS)
    f_lim = np.array([float(lim[f"f_{t}"]) for t in range(T)])
    se_lim = np.array([lim.errors[f"f_{t}"] for t in range(T)])
    assert np.all(se_lim > 0) and np.all(se_lim < 1e-3)
    for n, K in RUNS:
        runs = np.array([train_depth2_tanh(n, 1000 * n + s, XS, YS, float(ETA)) for s in
                         range(K)])
        mean = runs.mean(axis=0)
        se = runs.std(axis=0, ddof=1) / np.sqrt(K)
        tol = 4 * np.sqrt(se**2 + se_lim**2) + BIAS_C / n
        assert np.all(np.abs(mean - f_lim) <= tol), (n, mean, f_lim, tol)


def test_zdot_matters_for_this_program(numeric_limit):
    """The comparison above can fail: dropping ZDot (an independent backward matrix, TP4 §6.2)
    moves the limit by far more than the tolerance (~0.015)."""
    p, lim = numeric_limit
    q = depth2_program(sp.tanh(sp.Symbol("x", real=True)), ETA, XS, YS, decoupled=True)
    dec = derive_limit(q, mode="numeric", particles=2**18, seed=7)
    diff = max(abs(float(lim[f"f_{t}"]) - float(dec[f"f_{t}"])) for t in range(len(XS)))
    assert diff > 0.05
