"""Numeric mode against exact mode on random polynomial programs (tests/random_programs.py):
the exact limits (rational, from the exact engine's Gaussian moments) must lie within the
numeric error bars. Deterministic: hypothesis derandomized, fixed numeric seeds."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from tensorprog import derive_limit
from tests.random_programs import programs

#: Allowed distance in error bars. The mc error is the standard error over 16 independent
#: batches (t-distributed with 15 degrees of freedom: P(|t| > 6) ≈ 2·10⁻⁵ per scalar, and
#: ~600 scalars are checked); quadrature error bars are refinement differences.
K = 6


def _slack(v: float) -> float:
    return 1e-9 * (1 + abs(v))


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_steps=7, max_degree=4))
def test_numeric_agrees_with_exact(p):
    exact = derive_limit(p)
    mc = derive_limit(p, mode="numeric", method="mc", particles=2**16, batches=16, seed=1)
    assert mc.method == "mc" and set(mc.scalars) == set(exact.scalars)
    for name in p.outputs:
        want = float(exact[name])
        assert abs(float(mc[name]) - want) <= K * mc.errors[name] + _slack(want), name
    if mc.options["dims"] <= 4:
        # Gauss–Hermite integrates these polynomials exactly: only rounding remains.
        quad = derive_limit(p, mode="numeric", method="quadrature")
        for name in p.outputs:
            want = float(exact[name])
            assert quad.errors[name] < 1e-6 * (1 + abs(want))
            assert abs(float(quad[name]) - want) <= quad.errors[name] + _slack(want), name
