"""mode="float": the same Z-calculus and exact Gaussian moments with float64 coefficients.
Checked against hand derivations, TP4 Cor. 6.2, and exact mode (1e-12 relative)."""

from fractions import Fraction as F

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings

from tensorprog import Program, TensorProgError, derive_limit
from tests.random_programs import programs
from tests.test_backends import mup_depth1
from tests.test_engine_hand import cor62, linear_depth1_steps
from tests.tp4_programs import depth2

x = sp.Symbol("x", real=True)
ROUTES = [(z, e) for z in ("stein", "derivative") for e in ("innovations", "isserlis")]


def close(a, b, rel=1e-12) -> bool:
    a, b = float(a), float(b)
    return abs(a - b) <= rel * max(abs(a), 1.0)


def zdot_program() -> Program:
    p = Program()
    xv = p.vector("x")
    W = p.matrix("W")
    a = p.matmul("a", W.T, xv)
    c = p.nonlin("c", a**3)
    b = p.matmul("b", W, c)
    p.moment("m1", b * xv)
    p.moment("m2", b**2)
    p.output("m1", "m2")
    return p


@pytest.mark.parametrize("zdot,expectation", ROUTES)
def test_float_mode_hand_check(zdot, expectation):
    """ZDot (docs/engine.md): Z^b = Ẑ^{Wc} + 3 Z^x, so E[b x] = 3 and E[b²] = 15 + 9 = 24."""
    lim = derive_limit(zdot_program(), mode="float", zdot=zdot, expectation=expectation)
    assert lim.mode == "float" and lim.domain == "float64"
    assert not lim.is_exact("m1") and isinstance(lim["m1"], sp.Float)
    assert close(lim["m1"], 3, 1e-14) and close(lim["m2"], 24, 1e-14)


def test_depth1_quadratic_agrees_with_exact_and_hand():
    p = mup_depth1(x**2, F(1, 50), 6)
    exact = derive_limit(p)
    flt = derive_limit(p, mode="float")
    assert flt.backend == "float"
    eta = 1 / 50
    assert close(flt["f_1"], 7 * eta + 12 * eta**3, 1e-15)
    for t in range(7):
        assert close(flt[f"f_{t}"], exact[f"f_{t}"]), t


def test_pruning_drops_terms_but_not_accuracy():
    """The default float_tol drops negligible terms (fewer terms than tol=0) and agrees with
    the unpruned run and with exact mode to 1e-12."""
    p = mup_depth1(x**2, F(1, 50), 7)
    pruned = derive_limit(p, mode="float")
    full = derive_limit(p, mode="float", float_tol=0)
    assert pruned.stats["max_terms"] < full.stats["max_terms"]
    exact6 = derive_limit(mup_depth1(x**2, F(1, 50), 6))
    for t in range(8):
        assert close(pruned[f"f_{t}"], full[f"f_{t}"]), t
    for t in range(7):
        assert close(pruned[f"f_{t}"], exact6[f"f_{t}"]), t


def test_linear_path_matches_corollary_6_2():
    eta, xis, ys = F(1, 5), [1, F(-1, 2), 2, 1, F(3, 2), -1], [1, -1, F(1, 3), -1, 1, 2]
    fs, f_eval = cor62(eta, xis, ys, F(2, 3))
    lim = derive_limit(linear_depth1_steps(eta, xis, ys, F(2, 3)), mode="float")
    assert lim.backend == "linear"
    for t, f in enumerate(fs):
        assert close(lim[f"f_{t}"], f), t
    assert close(lim["f_eval"], f_eval)


@pytest.mark.parametrize("decoupled", [True, False])
def test_linear_path_tp4_depth2(decoupled):
    """φ = id, one step: f1 = 2ηy0ξ0ξ1 (decoupled, Thm 6.3) or 3ηy0ξ0ξ1 (Thm 6.4)."""
    eta, xi0, y0, xi1 = F(1, 10), F(1, 2), -1, 3
    lim = derive_limit(depth2(x, eta, xi0, y0, xi1, decoupled), mode="float")
    assert lim.backend == "linear"
    assert close(lim["f1"], (2 if decoupled else 3) * eta * y0 * xi0 * xi1, 1e-14)


def test_linear_path_higher_moments_and_singular_family():
    """Affine Z's with a Moment of degree 4 and linearly dependent atoms: a, b with covariance
    [[1, 1], [1, 1]] (a = b a.s.), W with σ² = 2: E[(Wa)²(Wb)²] = 3·(2·1)² = 12,
    E[(Wa − Wb)²] = 0, E[a⁴] = 3, E[(a + 1)³] = 3 E[a²] + 1 = 4."""
    p = Program()
    a, b = p.vectors(["a", "b"], [[1, 1], [1, 1]])
    W = p.matrix("W", 2)
    wa, wb = p.matmul("wa", W, a), p.matmul("wb", W, b)
    p.moment("m1", wa**2 * wb**2)
    p.moment("m2", (wa - wb) ** 2)
    p.moment("m3", a**4)
    p.moment("m4", (a + 1) ** 3)
    lim = derive_limit(p, mode="float")
    assert lim.backend == "linear"
    for name, want in (("m1", 12), ("m2", 0), ("m3", 3), ("m4", 4)):
        assert close(lim[name], want, 1e-14), name
    assert close(lim.innovation_variances()["u0"], 1)
    assert set(lim.innovation_variances()) == {"u0", "u2"}  # b and Wb add no innovation


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_steps=10, max_degree=8))
def test_float_agrees_with_exact_on_random_programs(p):
    exact = derive_limit(p)
    flt = derive_limit(p, mode="float")
    for name, value in exact.scalars.items():
        assert close(flt[name], value), (name, float(value), float(flt[name]))


def test_float_mode_irrational_and_float_inputs():
    p = Program()
    th = p.scalar("th", F(1, 3))
    c = p.scalar("c", 0.5)
    u = p.vector("u")
    p.moment("m", sp.exp(th) * c * u**2)
    lim = derive_limit(p, mode="float")
    assert close(lim["m"], 0.5 * 1.3956124250860895, 1e-15)


def test_float_overflow_is_a_clear_error():
    """E[u^200] with Var u = 10^4 is ~10^587: beyond float64."""
    p = Program()
    u = p.vector("u", 10**4)
    p.moment("m", u**200)
    with pytest.raises(TensorProgError, match="overflow"):
        derive_limit(p, mode="float")
    assert derive_limit(p)["m"] > 10**580  # exact mode is fine


def test_option_errors():
    p = zdot_program()
    with pytest.raises(TensorProgError, match="float_tol"):
        derive_limit(p, float_tol=1e-20)
    with pytest.raises(TensorProgError, match="backend"):
        derive_limit(p, mode="float", backend="flint")
    with pytest.raises(TensorProgError, match="unknown backend"):
        derive_limit(p, backend="fast")
    with pytest.raises(TensorProgError, match="float_tol"):
        derive_limit(p, mode="float", float_tol=2)


def test_auto_falls_back_to_float_for_irrational_limits():
    """Logistic loss: σ and log of limits make exact values symbolic (exp(31/16), …) and their
    size explodes with steps (step 2 exact takes seconds, step 3 minutes). Auto mode uses float
    for them; checked against the exact symbolic values (1 step) evaluated to 30 digits, and
    against the numeric interpreter's error bars (4 steps)."""
    from tensorprog.builders.mlp import mlp_program

    def prog(steps):
        xs = [(-1) ** t for t in range(steps + 1)]
        return mlp_program(1, "x^2", xs, [1] * (steps + 1), "1/2", loss="logistic")

    auto = derive_limit(prog(1), mode="auto")
    exact = derive_limit(prog(1), mode="exact")
    assert auto.mode == "float" and not auto.is_exact("f_1")
    assert any(not v.is_Rational for v in exact.outputs.values())  # really symbolic
    for k, v in exact.outputs.items():
        ref = float(v.evalf(30))
        assert abs(float(auto[k]) - ref) <= 1e-13 * max(1.0, abs(ref)), k
    auto4 = derive_limit(prog(4), mode="auto")
    num = derive_limit(prog(4), mode="numeric")
    for k in ("f_4", "loss_3"):
        assert abs(float(auto4[k]) - float(num[k])) < 6 * num.errors[k] + 1e-12, k


def test_auto_irrational_then_non_polynomial_goes_numeric():
    """exp of a scalar (irrational: exact gives up) followed by tanh of a vector (not
    polynomial: float gives up too) ⇒ the numeric interpreter, E[e·Z²] = e within its error."""
    p = Program()
    s = p.scalar("s", 1)
    z = p.vector("z")
    p.moment("e", sp.exp(s) * z**2)
    p.moment("t", p.nonlin("a", sp.tanh(z)) * z)
    lim = derive_limit(p, mode="auto", seed=0)
    assert lim.mode == "numeric"
    assert abs(float(lim["e"]) - float(sp.E)) < 6 * lim.errors["e"] + 1e-12


def test_unknown_route_names_are_refused_in_every_mode():
    p = Program()
    p.moment("m", p.vector("z") ** 2)
    for mode in ("auto", "exact", "numeric"):
        with pytest.raises(TensorProgError, match="backend"):
            derive_limit(p, mode=mode, backend="nosuch")
        with pytest.raises(TensorProgError, match="zdot"):
            derive_limit(p, mode=mode, zdot="nosuch")


def test_float_mode_refuses_overflow_instead_of_reading_zero():
    """η = 4 on a depth-1 φ = x² μP net diverges: the exact f_4 is beyond float64 range, so float
    mode must refuse (it used to prune the inf/nan terms and report f_4 = 0, loss_4 = 1/2)."""
    from fractions import Fraction

    import pytest

    from tensorprog import TensorProgError, derive_limit, mlp_program

    p = mlp_program(1, "x^2", [1, -1, 1, -1, 1], [1, 1, -1, 1, 1], Fraction(4))
    exact = derive_limit(p)
    assert abs(exact.as_float("f_3")) > 1e90  # the divergence, exactly
    assert abs(exact.outputs["f_4"]) > 10**308  # past float64's largest number
    with pytest.raises(TensorProgError, match="overflows"):
        derive_limit(p, mode="float")
