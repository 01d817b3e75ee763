"""The numeric interpreter (tensorprog.numeric) on hand-derived cases, and its API.

Expected values: hand derivations (in the docstrings), closed forms, and one-dimensional
integrals computed here by Simpson's rule with math-module functions (independent of the numpy
forms in tensorprog.functions).
"""

from __future__ import annotations

import json
import math
from fractions import Fraction as F

import numpy as np
import pytest
import sympy as sp

from tensorprog import Program, ProgramError, TensorProgError, derive_limit
from tensorprog.functions import FUNCTIONS, gelu, relu, sigmoid, silu
from tensorprog.numeric import NumericLimit, derive_numeric
from tensorprog.numeric.algebra import evaluate
from tests.test_engine_hand import depth2_quadratic_f1
from tests.tp4_programs import depth1, depth2

X = sp.Symbol("x", real=True)


def within(lim, name: str, want: float, k: float = 6) -> bool:
    return abs(float(lim[name]) - want) <= k * lim.errors[name] + 1e-9 * (1 + abs(want))


def gauss_integral(f, var: float = 1.0, n: int = 40001) -> float:
    """E f(a), a ~ N(0, var), by composite Simpson on ±14 standard deviations."""
    s = math.sqrt(var)
    xs = np.linspace(-14 * s, 14 * s, n)
    h = xs[1] - xs[0]
    ys = np.array([f(x) * math.exp(-x * x / (2 * var)) for x in xs]) / math.sqrt(2 * math.pi
                                                                                  * var)
    return float(h / 3 * (ys[0] + ys[-1] + 4 * ys[1:-1:2].sum() + 2 * ys[2:-1:2].sum()))


# ------------------------------------------------------------------ ZDot


def zdot_program(phi, vx=1, s2=1) -> Program:
    p = Program("zdot")
    xv = p.vector("x", vx)
    W = p.matrix("W", s2)
    a = p.matmul("a", W.T, xv)
    c = p.nonlin("c", phi(a))
    b = p.matmul("b", W, c)
    p.moment("m1", b * xv)
    p.moment("m2", b**2)
    p.output("m1", "m2")
    return p


@pytest.mark.parametrize("method", ["quadrature", "mc"])
def test_zdot_hand_check(method):
    """ZDot (TP4 Definition 7.3; worked in docs/engine.md): a = Wᵀx, c = a³, b = Wc ⇒
    Z^b = Ẑ^{Wc} + 3Z^x: E[bx] = 3, E[b²] = 24."""
    lim = derive_limit(zdot_program(lambda a: a**3), mode="numeric", method=method)
    assert lim.method == method
    assert within(lim, "m1", 3) and within(lim, "m2", 24)
    if method == "quadrature":
        assert abs(float(lim["m1"]) - 3) < 1e-9 and abs(float(lim["m2"]) - 24) < 1e-9


def _phi(t):
    return 1 / (1 + math.exp(-t))


def _Phi(t):
    return 0.5 * (1 + math.erf(t / math.sqrt(2)))


# name: (program φ, φ as a float function, φ' as a float function)
SMOOTH = {
    "tanh": (sp.tanh, math.tanh, lambda t: 1 - math.tanh(t) ** 2),
    "sigmoid": (sigmoid, _phi, lambda t: _phi(t) * (1 - _phi(t))),
    "gelu": (gelu, lambda t: t * _Phi(t),
             lambda t: _Phi(t) + t * math.exp(-t * t / 2) / math.sqrt(2 * math.pi)),
    "sin": (sp.sin, math.sin, math.cos),
}


@pytest.mark.parametrize("name", SMOOTH)
@pytest.mark.parametrize("method", ["auto", "mc"])
def test_zdot_nonpolynomial(name, method):
    """b = W φ(Wᵀx), x ~ N(0, 2), σ² = 3/4, so a ~ N(0, 3/2) and (TP4 Eq. 31)
    Z^b = Ẑ^{Wc} + σ² E[φ'(a)] Z^x: E[bx] = σ² vx E φ'(a), E[b²] = σ² E φ(a)² + (σ² E φ'(a))² vx.
    The expectations are 1-D Simpson integrals. Stein's lemma never differentiates φ."""
    phi, f, df = SMOOTH[name]
    vx, s2 = 2.0, 0.75
    va = s2 * vx
    d1 = gauss_integral(df, va)
    want1 = s2 * vx * d1
    want2 = s2 * gauss_integral(lambda t: f(t) ** 2, va) + (s2 * d1) ** 2 * vx
    lim = derive_limit(zdot_program(phi, 2, F(3, 4)), mode="numeric", method=method, seed=5)
    assert lim.method == ("quadrature" if method == "auto" else "mc")
    assert within(lim, "m1", want1) and within(lim, "m2", want2)
    if method == "auto":
        assert lim.errors["m1"] < 1e-6 and lim.errors["m2"] < 1e-6


@pytest.mark.parametrize("name,m1", [("relu", 0.5), ("step", 1 / math.sqrt(2 * math.pi))])
def test_zdot_kinks_and_jumps(name, m1):
    """x, a ~ N(0, 1): relu' = step gives E[bx] = P(a > 0) = 1/2 and E[b²] = E[relu²] + 1/4
    = 3/4; step' = δ gives E[bx] = density of a at 0 = 1/√(2π), E[b²] = 1/2 + 1/(2π).
    Derivative-free Stein handles the δ."""
    phi = relu if name == "relu" else sp.Heaviside
    m2 = 0.75 if name == "relu" else 0.5 + 1 / (2 * math.pi)
    lim = derive_limit(zdot_program(phi), mode="numeric", particles=2**19, seed=2)
    assert lim.method == "mc"
    assert within(lim, "m1", m1) and within(lim, "m2", m2)
    assert lim.errors["m1"] < 5e-3
    q = derive_limit(zdot_program(phi), mode="numeric", method="quadrature")
    assert within(q, "m1", m1, k=1) and within(q, "m2", m2, k=1)


# ------------------------------------------------------------------ every function


def _step(t):
    return 1.0 if t > 0 else (0.5 if t == 0 else 0.0)


FLOAT_FORMS = {
    "exp": math.exp, "log": math.log, "tanh": math.tanh, "sigmoid": _phi,
    "relu": lambda t: max(t, 0.0), "erf": math.erf, "gelu": lambda t: t * _Phi(t),
    "silu": lambda t: t * _phi(t), "sin": math.sin, "cos": math.cos, "abs": abs,
    "sqrt": math.sqrt, "step": _step,
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_whitelisted_function(name):
    """E f(g(u)) and E[u f(g(u))] for u ~ N(0, 1), g(u) = 1 + u² for log/sqrt (positive), else
    g(u) = u: numeric limit vs Simpson with the math-module function."""
    assert name in FLOAT_FORMS, f"add a float form for the new function {name}"
    spec, f = FUNCTIONS[name], FLOAT_FORMS[name]
    p = Program()
    u = p.vector("u")
    arg = 1 + u**2 if name in ("log", "sqrt") else u
    p.moment("m0", spec.sympy(arg))
    p.moment("m1", u * spec.sympy(arg))
    p.output("m0", "m1")

    def g(t):
        return 1 + t * t if name in ("log", "sqrt") else t

    lim = derive_limit(p, mode="numeric", particles=2**18, seed=11)
    assert within(lim, "m0", gauss_integral(lambda t: f(g(t))))
    assert within(lim, "m1", gauss_integral(lambda t: t * f(g(t))))


def test_max_min_and_relu_agree_exactly():
    """relu(u), Max(u, 0) and −Min(−u, 0) are the same function; with one seed the particles
    are the same, so the numeric limits are identical."""
    vals = []
    for make in (relu, lambda v: sp.Max(v, 0), lambda v: -sp.Min(-v, 0)):
        p = Program()
        u = p.vector("u", 2)
        W = p.matrix("W")
        h = p.matmul("h", W, p.nonlin("r", make(u)))
        p.moment("m", h * make(h))
        vals.append(float(derive_limit(p, mode="numeric", particles=2**14, seed=4)["m"]))
    assert vals[0] == vals[1] == vals[2]
    # E[h relu(h)] = E[h²]/2 = E[relu(u)²]/2 = Var(u)/4 = 1/2
    assert abs(vals[0] - 0.5) < 0.05


def test_piecewise_on_particles():
    """Piecewise is evaluated with its conditions (ir.py does not accept it in programs yet)."""
    u = sp.Symbol("u", real=True)
    e = sp.Piecewise((u, u > 0), (-2 * u, u < -1), (0, True))
    got = evaluate(e, {"u": np.array([-3.0, -0.5, 0.0, 2.0])}, "pw")
    assert got.tolist() == [6.0, 0.0, 0.0, 2.0]


# ------------------------------------------------------------------ programs


def test_depth1_quadratic_exact_by_quadrature():
    """TP4 Theorem 6.1 by hand: φ = x², η = 1/50, ξ0 = y0 = 1: f1 = 7η + 12η³ = 2189/15625
    (2 atoms, so auto uses quadrature, exact for polynomials)."""
    lim = derive_limit(depth1(X**2, F(1, 50), 1, 1, 1), mode="numeric")
    assert lim.method == "quadrature" and lim.options["dims"] == 2
    assert abs(float(lim["f1"]) - 2189 / 15625) < 1e-12
    assert abs(float(lim["f0"])) < 1e-12


@pytest.mark.parametrize("decoupled", [True, False])
def test_depth2_quadratic_by_quadrature(decoupled):
    """TP4 Thm 6.3/6.4 with φ = x², by the hand derivation of test_engine_hand (5 atoms; an
    explicit 16-point rule per coordinate is exact for these degrees)."""
    eta = F(1, 20)
    want = float(depth2_quadratic_f1(eta, 1, -1, F(-1, 2), decoupled))
    lim = derive_limit(depth2(X**2, eta, 1, -1, F(-1, 2), decoupled), mode="numeric",
                       method="quadrature", quadrature_points=16)
    assert abs(float(lim["f1"]) - want) < 1e-10
    mc = derive_limit(depth2(X**2, eta, 1, -1, F(-1, 2), decoupled), mode="numeric",
                      particles=2**17)
    assert mc.method == "mc" and within(mc, "f1", want)


def test_depth1_tanh_quadrature_and_mc_agree():
    """Depth 1, φ = tanh (TP4 Thm 6.1): two Gaussian atoms, so quadrature is essentially exact;
    mc must agree within its error bars."""
    p = depth1(sp.tanh(X), F(1, 2), 1, 1, F(-1, 2))
    q = derive_limit(p, mode="numeric")
    assert q.method == "quadrature" and q.errors["f1"] < 1e-7
    mc = derive_limit(p, mode="numeric", method="mc", seed=9)
    assert within(mc, "f1", float(q["f1"])) and within(mc, "f0", 0.0)


def test_singular_covariances():
    """Cov(a, b) = [[1, 1], [1, 1]]: a = b a.s.; W a and W b are the same atom (zero pivot):
    E[a²b²] = 3, E[(Wa)²(Wb)²] = 3·4 = 12, E[(Wa − Wb)²] = 0 exactly (same particles)."""
    p = Program()
    a, b = p.vectors(["a", "b"], [[1, 1], [1, 1]])
    W = p.matrix("W", 2)
    wa, wb = p.matmul("wa", W, a), p.matmul("wb", W, b)
    p.moment("m1", a**2 * b**2)
    p.moment("m2", wa**2 * wb**2)
    p.moment("m3", (wa - wb) ** 2)
    for method in ("quadrature", "mc"):
        lim = derive_limit(p, mode="numeric", method=method)
        assert lim.options["dims"] == 3  # rank-1 init family + two MatMuls (upper bound)
        assert within(lim, "m1", 3) and within(lim, "m2", 12)
        assert abs(float(lim["m3"])) < 1e-20 and lim.errors["m3"] <= 1e-11


def test_symbolic_scalars_become_floats():
    p = Program()
    c = p.scalar("c", sp.pi)
    u = p.vector("u")
    p.moment("m", sp.sqrt(2) * c * u**2)
    lim = derive_limit(p, mode="numeric")
    assert abs(float(lim["m"]) - math.sqrt(2) * math.pi) < 1e-12
    assert isinstance(lim["m"], sp.Float) and isinstance(lim["c"], sp.Float)


# ------------------------------------------------------------------ modes and API


def test_auto_mode_says_which():
    poly = zdot_program(lambda a: a**3)
    lim = derive_limit(poly, mode="auto")
    assert lim.mode == "exact" and lim.outputs == {"m1": 3, "m2": 24} and lim.is_exact("m1")
    num = derive_limit(zdot_program(sp.tanh), mode="auto")
    assert isinstance(num, NumericLimit)
    assert num.mode == "numeric" and not num.is_exact("m1") and num.errors["m1"] >= 0


def test_determinism_and_seeds():
    p = zdot_program(silu)
    a = derive_limit(p, mode="numeric", method="mc", seed=1, particles=2**14)
    b = derive_limit(p, mode="numeric", method="mc", seed=1, particles=2**14)
    c = derive_limit(p, mode="numeric", method="mc", seed=2, particles=2**14)
    assert a.scalars == b.scalars and a.errors == b.errors
    assert a.scalars != c.scalars
    assert abs(float(a["m1"]) - float(c["m1"])) < 6 * math.hypot(a.errors["m1"], c.errors["m1"])


def test_target_error_adds_batches():
    p = zdot_program(sp.tanh)
    lim = derive_limit(p, mode="numeric", method="mc", particles=2**14, batches=8,
                       target_error=2e-3)
    assert lim.options["batches"] > 8
    assert max(lim.errors[n] for n in lim.outputs) <= 2e-3 * 1.3  # re-estimated spread


def test_result_interface():
    p = zdot_program(sp.tanh)
    lim = derive_limit(p, mode="numeric", method="mc", particles=2**12, batches=4)
    d = json.loads(json.dumps(lim.to_dict()))
    assert d["mode"] == "numeric" and d["method"] == "mc"
    assert set(d["outputs"]) == {"m1", "m2"}
    e = d["outputs"]["m1"]
    assert e["exact"] is False and e["error"] == lim.errors["m1"]
    assert abs(e["float"] - float(lim["m1"])) == 0
    assert lim.batch_values["m1"].shape == (4,)
    assert "m1=" in repr(lim)
    with pytest.raises(TensorProgError, match="no symbolic Z"):
        lim.Z("b")


def test_progress_callback():
    calls = []
    p = zdot_program(sp.tanh)
    derive_numeric(p, progress=lambda d, t, n: calls.append((d, t, n)), method="mc",
                   particles=64, batches=2)
    assert len(calls) == 2 * len(p.nodes) + 1
    assert calls[0] == (0, 2 * len(p.nodes), "x") and calls[-2][0] == 2 * len(p.nodes) - 1
    assert calls[-1] == (1, 1, "")


@pytest.mark.parametrize("options,match", [
    ({"particle": 10}, "unknown option"),
    ({"method": "sobol"}, "unknown numeric method"),
    ({"particles": 10, "batches": 8}, "too few"),
    ({"batches": 1}, "batches must be an integer >= 2"),
    ({"seed": -1}, "seed must be"),
    ({"quadrature_points": 1}, "quadrature_points must be an integer >= 2"),
    ({"target_error": 0}, "target_error"),
    ({"method": "quadrature", "quadrature_points": 1000}, "too large"),
])
def test_bad_options(options, match):
    with pytest.raises(TensorProgError, match=match):
        derive_limit(zdot_program(sp.tanh), mode="numeric", **options)


def test_quadrature_grid_too_large():
    p = Program()
    vs = [p.vector(f"v{i}") for i in range(10)]
    p.moment("m", sp.Mul(*vs))
    with pytest.raises(TensorProgError, match="too large"):
        derive_limit(p, mode="numeric", method="quadrature", quadrature_points=64)


def test_non_finite_values_name_the_node():
    p = Program()
    u = p.vector("u")
    p.nonlin("lu", sp.log(u))
    with pytest.raises(ProgramError, match="'lu'") as err:
        derive_limit(p, mode="numeric")
    assert "log" in str(err.value)
    q = Program()
    s = q.scalar("s", -1)
    v = q.vector("v")
    q.moment("m", v**2)
    q.scalar_op("bad", sp.log(s))
    with pytest.raises(ProgramError, match="'bad'"):
        derive_limit(q, mode="numeric")
    r = Program()
    z = r.scalar("z", 0)
    w = r.vector("w")
    r.moment("m", w**2 / z)
    with pytest.raises(ProgramError, match="'m' is not finite"):
        derive_limit(r, mode="numeric")
