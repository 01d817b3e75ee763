"""Limits of hand programs against hand derivations (independent of the engine).

Derivations are written out in the docstrings; notation as TP4 §6: A = Z^{U0}, B = Z^{nV0},
G_t = Ẑ^{W x_t}, D = Ẑ^{W̃ dh̄_0} (or Ẑ^{Wᵀ dh̄_0}), chi0 = f0 - y0.
"""

from fractions import Fraction as F

import pytest
import sympy as sp

from tensorprog import NonPolynomialError, Program, derive_limit
from tests.tp4_programs import depth1, depth2

x = sp.Symbol("x", real=True)
ROUTES = [(z, e) for z in ("stein", "derivative") for e in ("innovations", "isserlis")]


def Q(v) -> sp.Rational:
    v = F(v)
    return sp.Rational(v.numerator, v.denominator)


@pytest.mark.parametrize("zdot,expectation", ROUTES)
def test_zdot_hand_check(zdot, expectation):
    """ZDot (TP4 Definition 7.3; docs/engine.md): a = Wᵀx, c = a³, b = W c ⇒
    Z^b = Ẑ^{Wc} + 3 Z^x: E[b x] = 3 E[x²] = 3 and E[b²] = E[c²] + 9 = 15 + 9 = 24."""
    p = Program()
    xv = p.vector("x")
    W = p.matrix("W")
    a = p.matmul("a", W.T, xv)
    c = p.nonlin("c", a**3)
    b = p.matmul("b", W, c)
    p.moment("m1", b * xv)
    p.moment("m2", b**2)
    p.output("m1", "m2")
    lim = derive_limit(p, zdot=zdot, expectation=expectation)
    assert lim.outputs == {"m1": 3, "m2": 24}
    assert all(isinstance(v, sp.Rational) for v in lim.outputs.values())
    Zb = lim.Z("b")
    atoms = lim.atoms
    assert sp.expand(Zb - atoms["Ẑ^{W c}"].symbol - 3 * atoms["Z^{x}"].symbol) == 0


@pytest.mark.parametrize("eta", [F(1, 50), F(1, 7), F(2)])
@pytest.mark.parametrize("xi1", [1, -1])
def test_depth1_quadratic_one_step(eta, xi1):
    """φ = x², ξ0 = y0 = 1: f0 = E[B A²] = 0, χ0 = -1, nV1 = B + ηA², U1 = A(1 + 2ηB), so
    f1 = E[(B + ηA²) A² (1+2ηB)²] = 4η + 3η(1 + 4η²) = 7η + 12η³ (TP4 Theorem 6.1)."""
    lim = derive_limit(depth1(x**2, eta, 1, 1, xi1))
    assert lim["f0"] == 0
    assert lim["f1"] == Q(7 * eta + 12 * eta**3)
    if eta == F(1, 50):
        assert lim["f1"] == sp.Rational(2189, 15625)


def cor62(eta, xis, ys, xi_eval):
    """TP4 Corollary 6.2 (learning rate eta): the linear depth-1 limit by its A,B,C,D recursion."""
    A, B, C, D = F(1), F(0), F(0), F(1)
    fs = []
    for xi, y in zip(xis, ys):
        f = (A * C + B * D) * xi
        fs.append(f)
        chi = f - y
        A, B, C, D = A - eta * chi * xi * C, B - eta * chi * xi * D, C - eta * chi * xi * A, \
            D - eta * chi * xi * B
    return fs, (A * C + B * D) * xi_eval


def linear_depth1_steps(eta, xis, ys, xi_eval) -> Program:
    p = Program("linear_depth1")
    e = p.scalar("eta", eta)
    U, nV = p.vector("U_0"), p.vector("nV_0")
    for t, (xi, y) in enumerate(zip(xis, ys)):
        s_xi, s_y = p.scalar(f"xi_{t}", xi), p.scalar(f"y_{t}", y)
        h = p.nonlin(f"h_{t}", s_xi * U)
        f = p.moment(f"f_{t}", nV * h)
        chi = p.scalar_op(f"chi_{t}", f - s_y)
        nV, U = (p.nonlin(f"nV_{t + 1}", nV - e * chi * h),
                 p.nonlin(f"U_{t + 1}", U - e * chi * s_xi * nV))
    s = p.scalar("xi_eval", xi_eval)
    p.moment("f_eval", nV * p.nonlin("h_eval", s * U))
    p.output(*[f"f_{t}" for t in range(len(xis))], "f_eval")
    return p


def test_depth1_linear_matches_corollary_6_2():
    eta = F(1, 5)
    xis = [1, F(-1, 2), 2, 1, F(3, 2), -1]
    ys = [1, -1, F(1, 3), -1, 1, 2]
    fs, f_eval = cor62(eta, xis, ys, F(2, 3))
    lim = derive_limit(linear_depth1_steps(eta, xis, ys, F(2, 3)))
    assert [lim[f"f_{t}"] for t in range(len(xis))] == [Q(f) for f in fs]
    assert lim["f_eval"] == Q(f_eval)


@pytest.mark.parametrize("decoupled,factor", [(True, 2), (False, 3)])
@pytest.mark.parametrize("xi0,y0,xi1", [(1, 1, 1), (F(1, 2), -1, 3)])
def test_depth2_linear_one_step(decoupled, factor, xi0, y0, xi1):
    """φ = id. x1 = ξ1(A − ηχ0ξ0 D), E[x0 x1] = ξ0ξ1, nV1 = B − ηχ0 G0.
    Decoupled (Thm 6.3): h̄1 = G1 − ηχ0ξ0ξ1 B, f1 = −ηχ0ξ0ξ1 − ηχ0 E[G0G1] = 2ηy0ξ0ξ1.
    Normal (Thm 6.4): Ż^{Wx1} = Z^{dh̄0} E[∂x1/∂D] = −ηχ0ξ0ξ1 B adds one more term: 3ηy0ξ0ξ1."""
    eta = F(1, 10)
    for zdot, expectation in ROUTES:
        lim = derive_limit(depth2(x, eta, xi0, y0, xi1, decoupled), zdot=zdot,
                           expectation=expectation)
        assert lim["f0"] == 0
        assert lim["f1"] == Q(factor * eta * y0 * F(xi0) * F(xi1))


def depth2_quadratic_f1(eta, xi0, y0, xi1, decoupled):
    """φ = x², one step, by hand. χ0 = −y0 (f0 = E[B G0²] = 0). x0 = ξ0²A², G0 ~ N(0, s00),
    s00 = E[x0²] = 3ξ0⁴; dh̄0 = 2G0B; D ~ N(0, v), v = E[(2G0B)²] = 12ξ0⁴; dh0 = 2ξ0 A D;
    U1 = A(1 − aD), a = 2ηχ0ξ0²; x1 = ξ1²A²(1 − aD)²;
    c = E[x0x1] = 3ξ0²ξ1²(1 + a²v); s11 = E[x1²] = 3ξ1⁴(1 + 6a²v + 3a⁴v²).
    h̄1 = G1 − k G0 B with k = 2ηχ0c (decoupled) or k = 2ηχ0c + 4aξ1² (normal: Ż^{Wx1} =
    Z^{dh̄0} E[∂x1/∂D] = 2G0B · (−2aξ1²)); E[G0²] = 0·... Then with nV1 = B − ηχ0G0²:
    f1 = E[(B − ηχ0G0²)(G1 − kG0B)²] = −2k c − ηχ0 (s00 s11 + 2c² + 3k² s00²)."""
    chi0 = -F(y0)
    xi0, xi1 = F(xi0), F(xi1)
    a = 2 * eta * chi0 * xi0**2
    v = 12 * xi0**4
    s00 = 3 * xi0**4
    c = 3 * xi0**2 * xi1**2 * (1 + a**2 * v)
    s11 = 3 * xi1**4 * (1 + 6 * a**2 * v + 3 * a**4 * v**2)
    k = 2 * eta * chi0 * c + (0 if decoupled else 4 * a * xi1**2)
    return -2 * k * c - eta * chi0 * (s00 * s11 + 2 * c**2 + 3 * k**2 * s00**2)


@pytest.mark.parametrize("decoupled", [True, False])
@pytest.mark.parametrize("xi0,y0,xi1", [(1, 1, 1), (1, -1, F(-1, 2))])
def test_depth2_quadratic_one_step(decoupled, xi0, y0, xi1):
    eta = F(1, 20)
    expected = Q(depth2_quadratic_f1(eta, xi0, y0, xi1, decoupled))
    for zdot, expectation in ROUTES:
        lim = derive_limit(depth2(x**2, eta, xi0, y0, xi1, decoupled), zdot=zdot,
                           expectation=expectation)
        assert lim["f0"] == 0
        assert lim["f1"] == expected


def test_non_polynomial_refused_with_node_name():
    p = Program()
    u = p.vector("u")
    p.nonlin("act", sp.tanh(u))
    with pytest.raises(NonPolynomialError) as err:
        derive_limit(p)
    assert "'act'" in str(err.value) and "tanh" in str(err.value)


def test_non_polynomial_function_of_scalars_is_fine():
    """exp of a scalar is a constant: E[exp(θ) u²] = exp(θ) exactly (symbolic, not a float)."""
    p = Program()
    th = p.scalar("th", F(1, 3))
    u = p.vector("u")
    p.moment("m", sp.exp(th) * u**2)
    lim = derive_limit(p)
    assert sp.simplify(lim["m"] - sp.exp(sp.Rational(1, 3))) == 0
    assert lim.is_exact("m") and not lim.is_rational("m")


def test_negative_power_of_vector_refused():
    p = Program()
    u = p.vector("u")
    p.moment("m", 1 / (1 + u**2))
    with pytest.raises(NonPolynomialError):
        derive_limit(p)


def test_singular_covariance_and_repeated_matmul():
    """a, b with Cov [[1,1],[1,1]] are equal a.s.: E[a²b²] = E[a⁴] = 3. Two MatMuls of the same
    vector give identical Ẑ (zero pivot): E[(Wa)²(Wb)²] = 3 E[a²]² = 3."""
    p = Program()
    a, b = p.vectors(["a", "b"], [[1, 1], [1, 1]])
    W = p.matrix("W", 2)
    wa = p.matmul("wa", W, a)
    wb = p.matmul("wb", W, b)
    p.moment("m1", a**2 * b**2)
    p.moment("m2", wa**2 * wb**2)
    p.moment("m3", (wa - wb) ** 2)
    for zdot, expectation in ROUTES:
        lim = derive_limit(p, zdot=zdot, expectation=expectation)
        assert (lim["m1"], lim["m2"], lim["m3"]) == (3, 3 * 4, 0)


def test_correlated_initial_vectors():
    """Cov [[1, 1/2], [1/2, 2]]: E[a² b²] = 1·2 + 2·(1/2)² = 5/2 (Isserlis by hand)."""
    p = Program()
    a, b = p.vectors(["a", "b"], [[1, F(1, 2)], [F(1, 2), 2]])
    p.moment("m", a**2 * b**2)
    assert derive_limit(p)["m"] == sp.Rational(5, 2)


def test_float_input_is_marked_inexact():
    p = Program()
    c = p.scalar("c", 0.5)
    u = p.vector("u")
    p.moment("m", c * u**2)
    lim = derive_limit(p)
    assert lim.domain == "RR" and not lim.is_exact("m")
    assert abs(float(lim["m"]) - 0.5) < 1e-12
