"""The finite-width interpreter against direct numpy and against known limits."""

import numpy as np
import pytest

from tensorprog import Program, ProgramError, run_finite, simulate


def zdot_program() -> Program:
    p = Program()
    x = p.vector("x")
    W = p.matrix("W")
    a = p.matmul("a", W.T, x)
    c = p.nonlin("c", a**3)
    b = p.matmul("b", W, c)
    p.moment("m1", b * x)
    p.moment("m2", b**2)
    p.output("m1", "m2")
    return p


def test_draws_reproduce_direct_numpy():
    rng = np.random.default_rng(0)
    n = 50
    x = rng.standard_normal(n)
    W = rng.standard_normal((n, n)) / np.sqrt(n)
    env = run_finite(zdot_program(), n, draws={"x": x, "W": W})
    b = W @ (W.T @ x) ** 3
    assert env["m1"] == pytest.approx(np.mean(b * x), rel=1e-12)
    assert env["m2"] == pytest.approx(np.mean(b**2), rel=1e-12)


def test_seed_reproducible():
    p = zdot_program()
    assert run_finite(p, 64, rng=3)["m2"] == run_finite(p, 64, rng=3)["m2"]
    assert run_finite(p, 64, rng=3)["m2"] != run_finite(p, 64, rng=4)["m2"]


def test_correlated_initial_vectors_sampled_with_their_covariance():
    p = Program()
    a, b = p.vectors(["a", "b"], [[1, 1], [1, 1]])  # singular: a = b
    c, d = p.vectors(["c", "d"], [[2, -1], [-1, 1]])
    p.moment("ab", a * b)
    p.moment("aa_bb", (a - b) ** 2)
    p.moment("cd", c * d)
    env = run_finite(p, 200_000, rng=0)
    assert env["aa_bb"] < 1e-20
    # sample covariance: sd of the mean of a product of unit Gaussians is ~ sqrt(2/n) ≈ 0.003
    assert env["ab"] == pytest.approx(1, abs=0.02)
    assert env["cd"] == pytest.approx(-1, abs=0.02)


def test_simulation_converges_to_hand_limits():
    """m1 → 3, m2 → 24 (the ZDot example of docs/engine.md). Tolerance: 6 standard errors over 8
    seeds, plus an O(1/n) bias allowance of 24·10/n."""
    sim = simulate(zdot_program(), 3000, 8)
    for name, limit in [("m1", 3), ("m2", 24)]:
        assert abs(sim.mean(name) - limit) < 6 * sim.stderr(name) + 240 / 3000


def test_bad_width():
    with pytest.raises(ProgramError):
        run_finite(zdot_program(), 0)
