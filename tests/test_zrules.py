"""The Z-calculus driver (tensorprog.zrules) over its domain protocol.

Both engines are domains of one driver: the polynomial domain (modes exact and float) and the
particle domain (mode numeric). To show the protocol is all a domain needs, and to check the
driver's rules against an independent representation, this file writes a third domain from
scratch: Z's of *linear* programs as exact polynomials of degree ≤ 2 in independent centred
Gaussian innovations (Fractions, no sympy polynomials, no backend), with families kept as pivot
atoms only -- as the particle domain does, unlike the polynomial one.
"""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings

from tensorprog import Program, derive_limit
from tensorprog.backends import make_backend
from tensorprog.backends.plan import degree_plan
from tensorprog.numeric.domain import ParticleDomain, ParticleFamily
from tensorprog.numeric.particles import MonteCarlo
from tensorprog.numeric.plan import make_plan
from tensorprog.polynomial import PolynomialDomain
from tensorprog.polynomial.atoms import PolyFamily
from tensorprog.zrules import ZCalculus, ZDomain, ZFamily
from tests.random_programs import programs

Poly = dict[tuple[int, ...], F]  # sorted innovation indices -> coefficient; () is the constant


def _mul(p: Poly, q: Poly) -> Poly:
    out: Poly = {}
    for a, x in p.items():
        for b, y in q.items():
            key = tuple(sorted(a + b))
            assert len(key) <= 2, "the test domain handles linear programs only"
            out[key] = out.get(key, F(0)) + x * y
    return {k: v for k, v in out.items() if v}


def _add(p: Poly, q: Poly, c: F = F(1)) -> Poly:
    out = dict(p)
    for k, v in q.items():
        out[k] = out.get(k, F(0)) + c * v
    return {k: v for k, v in out.items() if v}


def _number(x: sp.Expr) -> F:
    r = sp.Rational(x)
    return F(int(r.p), int(r.q))


class _Family:
    """Pivot atoms P_k = u_k + Σ_{i<k} L_ki u_i over the family's own innovations."""

    def __init__(self, dom: ExactLinearDomain) -> None:
        self.dom = dom
        self.inputs: list[str] = []
        self.pivots: list[tuple[int, Poly]] = []

    def add(self, var: F, cov: list[F], node: str, vector: str | None) -> Poly:
        d = self.dom.variance
        a: dict[int, F] = {}
        for (u, P), c in zip(self.pivots, cov):  # Cov(new, P_k) = c_k, forward substitution
            s = c - sum(a[j] * P.get((j,), F(0)) * d[j] for j in a)
            a[u] = s / d[u]
        rest = var - sum(x * x * d[j] for j, x in a.items())
        assert rest >= 0
        atom: Poly = {(j,): x for j, x in a.items() if x}
        if rest:
            u = len(d)
            d.append(rest)
            atom[(u,)] = F(1)
            self.pivots.append((u, dict(atom)))
            self.inputs.append(node if vector is None else vector)
        return atom


class ExactLinearDomain:
    """Z's as polynomials of degree ≤ 2 in innovations u_j ~ N(0, variance[j])."""

    def __init__(self) -> None:
        self.variance: list[F] = []
        self.env: dict[str, object] = {}  # name -> Poly (vector) or F (scalar)
        self.scalars: dict[str, F] = {}

    def _eval(self, e: sp.Expr) -> Poly:
        if e.is_Symbol:
            v = self.env[e.name]
            return v if isinstance(v, dict) else ({(): v} if v else {})
        if e.is_Number:
            return {(): _number(e)} if e else {}
        if e.is_Add:
            out: Poly = {}
            for a in e.args:
                out = _add(out, self._eval(a))
            return out
        if e.is_Mul:
            out = {(): F(1)}
            for a in e.args:
                out = _mul(out, self._eval(a))
            return out
        if e.is_Pow and e.exp.is_Integer:
            base = self._eval(e.base)
            if e.exp < 0:
                assert set(base) <= {()}, "only scalars are divided"
                return {(): F(1) / base[()] ** -int(e.exp)}
            out = {(): F(1)}
            for _ in range(int(e.exp)):
                out = _mul(out, base)
            return out
        raise AssertionError(f"not in the test domain: {e}")

    def _E(self, p: Poly) -> F:
        return p.get((), F(0)) + sum((c * self.variance[k[0]] for k, c in p.items()
                                      if len(k) == 2 and k[0] == k[1]), F(0))  # fmt: skip

    def _set_scalar(self, name: str, value: F) -> None:
        self.scalars[name] = self.env[name] = value

    # ZDomain
    def constant(self, expr, node):
        return _number(expr)

    def vector(self, name):
        return self.env[name]

    def inner(self, p, q):
        return self._E(_mul(p, q))

    def new_family(self, name, matrix, transpose, sigma2):
        return _Family(self)

    def stein(self, family, x, node):
        # Z^x restricted to the family's innovations is Σ_k c_k P_k (P unit triangular):
        # back substitution; for linear Z, E[∂Z^x/∂P_k] = c_k.
        z = self.env[x]
        c: dict[int, F] = {}
        for k in reversed(range(len(family.pivots))):
            u, _ = family.pivots[k]
            c[k] = z.get((u,), F(0)) - sum(c[m] * family.pivots[m][1].get((u,), F(0))
                                           for m in c)  # fmt: skip
        return [c[k] for k in range(len(family.pivots))]

    def init_scalar(self, node):
        self._set_scalar(node.name, _number(node.value))

    def init_vector(self, node, atom):
        self.env[node.name] = atom

    def nonlin(self, node):
        z = self._eval(node.expr)
        assert all(len(k) <= 1 for k in z), "a nonlinear Z"
        self.env[node.name] = z

    def moment(self, node):
        self._set_scalar(node.name, self._E(self._eval(node.expr)))

    def scalar_op(self, node):
        v = self._eval(node.expr)
        self._set_scalar(node.name, v.get((), F(0)))

    def matmul(self, node, atom, dot):
        z = atom
        for y, coef in dot:
            z = _add(z, self.env[y], coef)
        self.env[node.name] = z

    def free(self, name):
        self.env.pop(name, None)


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_steps=10, max_degree=1))
def test_a_third_domain_gives_the_exact_limits_of_linear_programs(p):
    """Random linear programs (MatMul chains through W and Wᵀ, so ZDot is at work): the test
    domain through ZCalculus equals derive_limit's exact rationals."""
    dom = ExactLinearDomain()
    ZCalculus(p, dom).run()
    ref = derive_limit(p)
    assert set(dom.scalars) == set(ref.scalars)
    for name, v in dom.scalars.items():
        assert sp.Rational(v.numerator, v.denominator) == ref.scalars[name], name


def test_zdot_is_at_work_in_the_test_domain():
    """TP4 §6 style hand case: x ~ N(0,1), a = W x, b = 2a, c = Wᵀ b, m = E[c x].
    Ż^c = σ² E[∂Z^b/∂Ẑ^{Wx}] Z^x = 2 Z^x, Ẑ^c ⟂ x, so m = 2 (and E[c²] = 4 + 4 = 8)."""
    p = Program("hand")
    x = p.vector("x")
    W = p.matrix("W")
    a = p.matmul("a", W, x)
    b = p.nonlin("b", 2 * a)
    c = p.matmul("c", W.T, b)
    p.moment("m", c * x)
    p.moment("v", c * c)
    dom = ExactLinearDomain()
    ZCalculus(p, dom).run()
    assert dom.scalars == {"m": 2, "v": 8}


def test_the_engines_domains_follow_the_protocol():
    p = Program("tiny")
    x = p.vector("x")
    W = p.matrix("W")
    p.moment("m", p.matmul("h", W, x) ** 2)
    plan = degree_plan(p)
    backend = make_backend("auto", "exact", sp.QQ, plan.n_atoms, plan, "innovations")
    poly = PolynomialDomain(p, backend, "stein", "innovations")
    particles = ParticleDomain(make_plan(p), MonteCarlo(8, np.random.default_rng(0)), {})
    for dom in (poly, particles, ExactLinearDomain()):
        assert isinstance(dom, ZDomain), type(dom).__name__
    assert isinstance(poly.new_family("W", "W", False, sp.S.One), ZFamily)
    assert isinstance(particles.new_family("W", "W", False, sp.S.One), ZFamily)
    assert PolyFamily and ParticleFamily  # the two family adapters


def test_the_driver_frees_and_forgets_what_it_is_told():
    """free_after / families_done: a vector freed after its last use is gone from the domain."""
    p = Program("free")
    x = p.vector("x")
    h = p.nonlin("h", 3 * x)
    p.moment("m", h * x)
    dom = ExactLinearDomain()
    ZCalculus(p, dom, free_after=[(), (), ("h", "x")], families_done=[(), (), ()]).run()
    assert dom.scalars == {"m": 3}
    assert "h" not in dom.env and "x" not in dom.env


@pytest.mark.parametrize("mode", ["exact", "float", "numeric"])
def test_every_mode_runs_the_one_driver(mode, monkeypatch):
    """derive_limit in each mode goes through ZCalculus (one implementation of the rules)."""
    seen = []
    original = ZCalculus.run

    def spy(self):
        seen.append(type(self.domain).__name__)
        return original(self)

    monkeypatch.setattr(ZCalculus, "run", spy)
    p = Program("spy")
    x = p.vector("x")
    W = p.matrix("W")
    p.moment("m", p.matmul("h", W, x) ** 2)
    assert float(derive_limit(p, mode=mode)["m"]) == pytest.approx(1, abs=1e-2)
    assert seen and set(seen) == {"ParticleDomain" if mode == "numeric" else "PolynomialDomain"}
