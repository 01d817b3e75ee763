"""Exact limits of depth-2 MLP + SGD programs against the real network at width 4096.

The reference is the direct trainer (tensorprog.training; real matrices, backprop, SGD), run
with K fixed seeds. For each output f_t the test requires

    |mean_K(f_t) − f̊_t| ≤ 6 · stderr_K(f_t) + BIAS / n,

* 6 · stderr: the seed-to-seed spread measured here (a 6σ band; with K = 12 seeds the
  estimated stderr is Student-t with 11 dof, P(|t| > 6) ≈ 1e-4 per comparison);
* BIAS / n: the finite-width bias of the mean is O(1/n) (Master Theorem fluctuations are
  O(1/√n) and centred to leading order). Measured with thousands of seeds at n = 128…512 on
  these very configurations, |n · (mean − limit)| stayed below 8; BIAS = 20 allows 2.5×.

The test also checks its own power: normal and decoupled limits differ by more than the
tolerance, so mixing them up (or dropping the ZDot term) would fail.

Step sizes are small (η = 1/10 for φ = x, 1/100 for φ = x²): quadratic nets have heavy
tails that, at larger η, make finite-width runs blow up on a few coordinates (docs/mlp.md,
"TP4 Figure 4").
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tensorprog.builders import mlp_program
from tensorprog.ir import sym
from tensorprog.training import train_mlp
from tensorprog.zcalc import derive_limit

X = sym("x")
WIDTH = 4096
SEEDS = 12
SIGMAS = 6
BIAS = 20
XS, YS = [1, -1, 1], [1, -1, 1]
CONFIGS = {
    "linear": (X, Fraction(1, 10)),
    "quadratic": (X**2, Fraction(1, 100)),
}


@pytest.fixture(scope="module")
def finite_runs():
    """f_t of the real network for every config, the same draws shared across configs."""
    out: dict[tuple[str, bool], list[np.ndarray]] = {}
    n = WIDTH
    for s in range(SEEDS):
        rng = np.random.default_rng(2024 + s)
        draws = {"U_0": rng.standard_normal(n), "nV_0": rng.standard_normal(n)}
        for name in ("W2", "Wtilde2"):
            draws[name] = rng.standard_normal((n, n))
            draws[name] *= 1 / np.sqrt(n)  # in place: fresh 128 MB arrays are slow here
        for kind, (phi, eta) in CONFIGS.items():
            for dec in (False, True):
                d = draws if dec else {k: v for k, v in draws.items() if k != "Wtilde2"}
                res = train_mlp(2, phi, XS, YS, eta, width=n, draws=d, decoupled=dec)
                out.setdefault((kind, dec), []).append(res.f[:, 0])
    return {k: np.array(v) for k, v in out.items()}


def limits(kind: str, decoupled: bool) -> np.ndarray:
    phi, eta = CONFIGS[kind]
    lim = derive_limit(mlp_program(2, phi, XS, YS, eta, decoupled=decoupled))
    assert all(lim.is_rational(f"f_{t}") for t in range(len(XS)))
    return np.array([float(lim.scalars[f"f_{t}"]) for t in range(len(XS))])


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(CONFIGS))
def test_depth2_limit_matches_width_4096(kind, finite_runs):
    lims = {dec: limits(kind, dec) for dec in (False, True)}
    tols = {}
    for dec in (False, True):
        runs = finite_runs[(kind, dec)]
        assert np.all(np.isfinite(runs))
        mean = runs.mean(axis=0)
        se = runs.std(axis=0, ddof=1) / np.sqrt(SEEDS)
        tol = SIGMAS * se + BIAS / WIDTH
        tols[dec] = tol
        dev = np.abs(mean - lims[dec])
        assert np.all(dev <= tol), (kind, dec, mean, lims[dec], se)
    # power: the two variants' limits are told apart at t = 1, 2
    gap = np.abs(lims[False] - lims[True])[1:]
    assert np.all(gap > np.maximum(tols[False], tols[True])[1:])
