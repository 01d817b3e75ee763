"""The fast exact backend (python-flint) against the plain sympy-ring reference: identical
Rationals on hand programs and on hypothesis-generated random programs, in every representation
(sparse, Kronecker-packed, and the automatic choice) and expectation route; unit checks of the
packed products, deflation, inner products and the degree plan against independent formulas."""

from fractions import Fraction as F
from itertools import product as iproduct

import pytest
import sympy as sp
from flint import fmpq, fmpz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorprog import Program, derive_limit
from tensorprog.backends.flintq import FlintBackend, monomial_count
from tensorprog.backends.plan import degree_plan
from tests.random_programs import programs
from tests.test_engine_hand import cor62, linear_depth1_steps
from tests.tp4_programs import depth1, depth2

x = sp.Symbol("x", real=True)
FLINT = ["flint", "flint-sparse", "flint-kronecker"]


def mup_depth1(phi, eta, steps: int) -> Program:
    """Depth-1 μP SGD with ξ_t = (−1)^t, y_t = 1 written out by hand (TP4 Theorem 6.1)."""
    dphi = sp.diff(phi, x)
    p = Program("depth1_steps")
    e = p.scalar("eta", eta)
    U, nV = p.vector("U_0"), p.vector("nV_0")
    for t in range(steps + 1):
        xi = p.scalar(f"xi_{t}", (-1) ** t)
        h = p.nonlin(f"h_{t}", xi * U)
        xx = p.nonlin(f"x_{t}", phi.subs(x, h))
        f = p.moment(f"f_{t}", nV * xx)
        if t == steps:
            break
        chi = p.scalar_op(f"chi_{t}", f - 1)
        nV, U = (p.nonlin(f"nV_{t + 1}", nV - e * chi * xx),
                 p.nonlin(f"U_{t + 1}", U - e * chi * xi * nV * dphi.subs(x, h)))
    p.output(*[f"f_{t}" for t in range(steps + 1)])
    return p


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_steps=9, max_degree=6))
def test_flint_identical_to_plain_on_random_programs(p):
    ref = derive_limit(p, backend="plain")
    for backend in FLINT:
        for expectation in ("innovations", "isserlis"):
            lim = derive_limit(p, backend=backend, expectation=expectation)
            assert lim.scalars == ref.scalars, (backend, expectation)
            assert all(v.is_Rational for v in lim.scalars.values())
    lim = derive_limit(p, backend="flint-kronecker", zdot="derivative")
    assert lim.scalars == ref.scalars
    for v in p.names("vector")[-3:]:
        assert sp.expand(lim.Z_innovations(v) - ref.Z_innovations(v)) == 0, v


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_steps=5, max_degree=3))
def test_literal_expand_route_identical_to_flint(p):
    """The benchmarks' baseline (sympy.expand + Isserlis) shares no polynomial code with flint."""
    ref = derive_limit(p, backend="flint")
    for expectation in ("innovations", "isserlis"):
        assert derive_limit(p, backend="expand", expectation=expectation).scalars == ref.scalars


def test_literal_expand_route_on_sgd_steps():
    p = mup_depth1(x**2, F(1, 50), 2)
    lim = derive_limit(p, backend="expand", expectation="isserlis")
    assert lim["f_1"] == sp.Rational(2189, 15625)  # 7η + 12η³ by hand (TP4 Thm 6.1)
    assert lim.outputs == derive_limit(p, backend="flint").outputs


@pytest.mark.parametrize("phi", [x**2, x**3 - x, x])
def test_flint_identical_to_plain_on_sgd_steps(phi):
    p = mup_depth1(phi, F(1, 50), 4 if phi != x**3 - x else 2)
    ref = derive_limit(p, backend="plain")
    for backend in FLINT:
        lim = derive_limit(p, backend=backend)
        assert lim.outputs == ref.outputs, backend
    if phi == x**2:
        # By hand (TP4 Theorem 6.1, Eqs. 18–19): f1 = 7η + 12η³ for η = 1/50.
        assert ref["f_1"] == sp.Rational(2189, 15625)
        # The packed route (Kronecker products, parity deflation, moment correlation) ran.
        counts = derive_limit(p, backend="flint")._engine.B.counts
        assert counts["packed"] > 0 and counts["correlations"] > 0


@pytest.mark.parametrize("decoupled", [True, False])
def test_flint_on_tp4_depth2(decoupled):
    for phi in (x, x**2):
        p = depth2(phi, F(1, 20), 1, -1, F(-1, 2), decoupled)
        ref = derive_limit(p, backend="plain")
        for backend in FLINT:
            assert derive_limit(p, backend=backend).scalars == ref.scalars


def test_flint_linear_path_matches_corollary_6_2():
    """φ = id: every Z affine; the flint inner products of affine forms reproduce the TP4
    Cor. 6.2 recursion exactly."""
    eta, xis, ys = F(1, 5), [1, F(-1, 2), 2, 1, F(3, 2), -1], [1, -1, F(1, 3), -1, 1, 2]
    fs, f_eval = cor62(eta, xis, ys, F(2, 3))
    p = linear_depth1_steps(eta, xis, ys, F(2, 3))
    lim = derive_limit(p)
    assert lim.backend == "flint" and lim.stats["linear"]
    assert [lim[f"f_{t}"] for t in range(len(xis))] == [sp.Rational(f.numerator, f.denominator)
                                                          for f in fs]
    assert lim["f_eval"] == sp.Rational(f_eval.numerator, f_eval.denominator)


def _moment(alpha, pivots):
    """E[∏ u_k^{a_k}] = ∏ (a_k − 1)!! d_k^{a_k/2} for independent centred Gaussians u_k
    of variances d_k (zero if some a_k is odd), written independently."""
    out = F(1)
    for a, d in zip(alpha, pivots):
        if a % 2:
            return F(0)
        dfact = 1
        for j in range(a - 1, 0, -2):
            dfact *= j
        out *= dfact * F(d) ** (a // 2)
    return out


def _random_poly(draw, n, deg, parity=None):
    terms = {}
    for _ in range(draw(st.integers(1, 25))):
        e = [draw(st.integers(0, deg)) for _ in range(n)]
        if parity is not None:
            e[0] = 2 * (e[0] // 2) + parity
        terms[tuple(e)] = F(draw(st.integers(-9, 9)), draw(st.integers(1, 7)))
    return {m: c for m, c in terms.items() if c}


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.data())
def test_packed_products_and_inner_products(data):
    """Kronecker-packed products (with parity deflation) equal sparse products, and
    inner(p, q) equals E[p·q] computed monomial by monomial from the moment formula."""
    n = data.draw(st.integers(1, 3))
    pivots = [F(data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3))) for _ in range(n)]
    par = data.draw(st.sampled_from([None, 0, 1]))
    pd = _random_poly(data.draw, n, 6, par)
    qd = _random_poly(data.draw, n, 6, par)
    results = []
    for kron in ("always", "never"):
        B = FlintBackend(n, kronecker=kron)
        for k, d in enumerate(pivots):
            B.set_pivot(k, fmpq(d.numerator, d.denominator))

        def poly(d, B=B):
            out = B.zero
            for m, c in d.items():
                term = B.const(fmpq(c.numerator, c.denominator))
                for k, a in enumerate(m):
                    term = B.mul(term, B.gen(k) ** a)
                out = out + term
            return out

        P, Q = poly(pd), poly(qd)
        prod = B.mul(P, Q)
        results.append(({m: F(int(c.p), int(c.q)) for m, c in B.terms(prod)},
                        B.inner(P, Q), B.expect(P)))
    # the product by hand
    expected: dict = {}
    for (m1, c1), (m2, c2) in iproduct(pd.items(), qd.items()):
        m = tuple(a + b for a, b in zip(m1, m2))
        expected[m] = expected.get(m, 0) + c1 * c2
    expected = {m: c for m, c in expected.items() if c}
    e_pq = sum((c * _moment(m, pivots) for m, c in expected.items()), F(0))
    e_p = sum((c * _moment(m, pivots) for m, c in pd.items()), F(0))
    for prod, inner, ep in results:
        assert prod == expected
        assert F(int(inner.p), int(inner.q)) == e_pq
        assert F(int(ep.p), int(ep.q)) == e_p


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=4), st.integers(0, 12))
def test_monomial_count_by_enumeration(degs, total):
    brute = sum(1 for e in iproduct(*[range(d + 1) for d in degs]) if sum(e) <= total)
    assert monomial_count(degs, total) == brute


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_steps=8, max_degree=6))
def test_degree_plan_bounds_every_z(p):
    """The float backend packs monomials with the plan's per-variable bounds, so the plan must
    bound every Z's degree in every innovation (checked on the exact Z's)."""
    plan = degree_plan(p)
    lim = derive_limit(p, backend="flint-sparse")
    eng = lim._engine
    for v in p.names("vector"):
        N = eng.zrep[v].N
        assert int(N.total_degree()) <= plan.total[v]
        if plan.var_bound is not None:
            assert all(int(a) <= b for a, b in zip(N.degrees(), plan.var_bound))
    assert plan.linear == all(plan.total[v] <= 1 for v in p.names("vector"))


def test_quadratic_plan_is_not_linear_and_linear_plan_is():
    assert not degree_plan(depth1(x**2, F(1, 50), 1, 1, 1)).linear
    assert degree_plan(depth2(x, F(1, 50), 1, 1, 1, False)).linear


def test_huge_rationals_print_without_crashing():
    """f_6 of the depth-1 x² net has ~32k digits, far past CPython's 4300-digit int→str limit."""
    lim = derive_limit(mup_depth1(x**2, F(1, 50), 6))
    f6 = lim["f_6"]
    assert int(f6.q).bit_length() > 15000
    num, den = lim.to_dict()["outputs"]["f_6"]["value"].split("/")
    assert fmpz(num) == int(f6.p) and fmpz(den) == int(f6.q)
    assert "f_6≈" in repr(lim) and len(repr(lim)) < 2000  # short approximations
    assert lim.stats["max_digits"] > 4300
