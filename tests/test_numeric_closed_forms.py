"""Numeric limits against closed forms from the literature.

NNGP of a 2-layer network written as a program: u, v = the first-layer preactivations of two
inputs (jointly Gaussian with covariance Σ), a = φ(u), b = φ(v), h_a = W a, h_b = W b with
W ~ N(0, σ²/n). By ZHat, (h_a, h_b) is Gaussian with covariance σ² E[φ φ] — the NNGP recursion —
so the moments below are the layer-1 and layer-2 kernels.

* ReLU (arc-cosine kernel, Cho & Saul 2009): for centred Gaussians with variances s11, s22 and
  covariance s12, E[relu(u) relu(v)] = √(s11 s22) (sin θ + (π − θ) cos θ) / (2π),
  θ = arccos(s12 / √(s11 s22)).
* erf (Williams 1997): E[erf(u) erf(v)] = (2/π) arcsin(2 s12 / √((1 + 2 s11)(1 + 2 s22))).
"""

from __future__ import annotations

import math
from fractions import Fraction as F

import pytest
import sympy as sp

from tensorprog import Program, derive_limit
from tensorprog.functions import relu

SIGMA2 = 2
COV = [[1, F(1, 3)], [F(1, 3), 2]]


def arccos_kernel(s11: float, s22: float, s12: float) -> float:
    r = max(-1.0, min(1.0, s12 / math.sqrt(s11 * s22)))
    th = math.acos(r)
    return math.sqrt(s11 * s22) * (math.sin(th) + (math.pi - th) * math.cos(th)) / (2 * math.pi)


def erf_kernel(s11: float, s22: float, s12: float) -> float:
    return 2 / math.pi * math.asin(2 * s12 / math.sqrt((1 + 2 * s11) * (1 + 2 * s22)))


def nngp_program(phi) -> Program:
    p = Program("nngp2")
    u, v = p.vectors(["u", "v"], COV)
    W = p.matrix("W", SIGMA2)
    a, b = p.nonlin("a", phi(u)), p.nonlin("b", phi(v))
    ha, hb = p.matmul("ha", W, a), p.matmul("hb", W, b)
    p.moment("k1_ab", a * b)
    p.moment("k1_aa", a**2)
    p.moment("k2_ab", phi(ha) * phi(hb))
    p.moment("k2_aa", phi(ha) ** 2)
    p.moment("k2_bb", phi(hb) ** 2)
    p.output("k1_ab", "k1_aa", "k2_ab", "k2_aa", "k2_bb")
    return p


def expected(kernel) -> dict[str, float]:
    """The kernel recursion, by the closed form at each layer."""
    s11, s22, s12 = (float(COV[0][0]), float(COV[1][1]), float(COV[0][1]))
    k_aa, k_bb, k_ab = kernel(s11, s11, s11), kernel(s22, s22, s22), kernel(s11, s22, s12)
    t11, t22, t12 = SIGMA2 * k_aa, SIGMA2 * k_bb, SIGMA2 * k_ab
    return {
        "k1_ab": k_ab,
        "k1_aa": k_aa,
        "k2_ab": kernel(t11, t22, t12),
        "k2_aa": kernel(t11, t11, t11),
        "k2_bb": kernel(t22, t22, t22),
    }


CASES = {"relu": (relu, arccos_kernel), "erf": (sp.erf, erf_kernel)}
_CACHE: dict = {}


def numeric(name: str, **options):
    """The numeric limit of the NNGP program (memoized: erf on a 10⁶-point grid takes ~1.5 s)."""
    key = (name, tuple(sorted(options.items())))
    if key not in _CACHE:
        _CACHE[key] = derive_limit(nngp_program(CASES[name][0]), mode="numeric", **options)
    return _CACHE[key]


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("options", [
    {"method": "mc", "particles": 2**18, "seed": 3},
    {"method": "quadrature"},
])
def test_nngp_closed_forms(name, options):
    kernel = CASES[name][1]
    lim = numeric(name, **options)
    for k, want in expected(kernel).items():
        got, err = float(lim[k]), lim.errors[k]
        assert err < 0.05  # the error bars are informative, not just wide
        assert abs(got - want) <= 6 * err + 1e-12, (k, got, want, err)


@pytest.mark.parametrize("name,method", [("erf", "quadrature"), ("relu", "mc")])
def test_auto_method_on_one_layer(name, method):
    """Auto picks quadrature for analytic φ with few innovations and mc for kinks; either way
    the layer-1 kernel matches its closed form."""
    phi, kernel = CASES[name]
    p = Program("nngp1")
    u, v = p.vectors(["u", "v"], COV)
    p.moment("k", phi(u) * phi(v))
    lim = derive_limit(p, mode="numeric")
    assert lim.method == method
    want = kernel(float(COV[0][0]), float(COV[1][1]), float(COV[0][1]))
    assert abs(float(lim["k"]) - want) <= 6 * lim.errors["k"] + 1e-12
    if method == "quadrature":
        assert abs(float(lim["k"]) - want) < 1e-10


def test_erf_quadrature_is_accurate():
    """erf is entire: the Gauss–Hermite limit is far more accurate than its (conservative)
    refinement error bar, and that bar is already small."""
    lim = numeric("erf", method="quadrature")
    for k, want in expected(erf_kernel).items():
        assert abs(float(lim[k]) - want) < 1e-5
        assert lim.errors[k] < 1e-3


def test_relu_second_moment_is_half_the_variance():
    """E[relu(u)²] = Var(u)/2 and, one layer up, E[relu(h)²] = σ² Var(u)/4: closed forms that
    the arc-cosine kernel at θ = 0 also gives; quadrature gets them to rounding (symmetric
    nodes)."""
    lim = numeric("relu", method="quadrature")
    assert abs(float(lim["k1_aa"]) - 0.5) < 1e-12
    assert abs(float(lim["k2_aa"]) - SIGMA2 * 0.25) < 1e-12
