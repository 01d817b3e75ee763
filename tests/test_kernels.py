"""Exact NNGP/NTK from the engine against the standard layer recursion (neural-tangents' stax
conventions, Dense(W_std, b_std=0) in the NTK parametrization), written here independently with
closed-form Gaussian moments, and against an empirical NTK of a finite network."""

from fractions import Fraction as F

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorprog import ProgramError
from tensorprog.kernels import mlp_kernels

x = sp.Symbol("x", real=True)

# E[φ(u)φ(v)] and E[φ'(u)φ'(v)] for (u, v) ~ N(0, [[a, c], [c, b]]), by Isserlis.
MOMENTS = {
    "x": (lambda a, b, c: c, lambda a, b, c: 1),
    "x^2": (lambda a, b, c: a * b + 2 * c * c, lambda a, b, c: 4 * c),
    "x^3": (lambda a, b, c: 9 * a * b * c + 6 * c**3, lambda a, b, c: 9 * (a * b + 2 * c * c)),
}
EXPRS = {"x": x, "x^2": x**2, "x^3": x**3}


def recursion(xs, depth, act, s2):
    """Σ¹ = σ² ξ·ξ'/d, Θ¹ = Σ¹; Σ^{l+1} = σ² E[φφ], Θ^{l+1} = Σ^{l+1} + σ² Θ^l E[φ'φ']."""
    k, d = len(xs), len(xs[0])
    S = [[s2 * sum(F(a) * F(b) for a, b in zip(xs[i], xs[j])) / d for j in range(k)]
         for i in range(k)]
    T = [row[:] for row in S]
    f, df = MOMENTS[act]
    for _ in range(depth):
        Kf = [[f(S[i][i], S[j][j], S[i][j]) for j in range(k)] for i in range(k)]
        Kd = [[df(S[i][i], S[j][j], S[i][j]) for j in range(k)] for i in range(k)]
        S = [[s2 * Kf[i][j] for j in range(k)] for i in range(k)]
        T = [[S[i][j] + s2 * T[i][j] * Kd[i][j] for j in range(k)] for i in range(k)]
    return S, T


def as_matrix(rows):
    return sp.Matrix([[sp.Rational(v.numerator, v.denominator) for v in r] for r in rows])


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    depth=st.integers(1, 3),
    act=st.sampled_from(["x", "x^2", "x^3"]),
    s2=st.sampled_from([F(1), F(2), F(1, 2)]),
    xs=st.lists(st.lists(st.sampled_from([F(1), F(-1), F(1, 2), F(2), F(0)]), min_size=2,
                         max_size=2).filter(any), min_size=1, max_size=3),
)
def test_kernels_match_recursion(depth, act, s2, xs):
    if act == "x^3" and depth == 3:
        depth = 2  # degree 27 integrands: correct but slow; depth 2 covers the recursion
    k = mlp_kernels(xs, depth, EXPRS[act], weight_var=s2)
    S, T = recursion(xs, depth, act, s2)
    assert k.nngp == as_matrix(S)
    assert k.ntk == as_matrix(T)


def test_worked_example():
    """ξ = (1, 0), d = 2, σ² = 2, φ = x², L = 2: Σ¹ = 1, Σ² = 2·3 = 6, Σ³ = 2·3·36 = 216;
    Θ² = 6 + 2·1·4 = 14, Θ³ = 216 + 2·14·(4·6) = 888."""
    k = mlp_kernels([[1, 0]], 2, "x^2" if _has_lang() else x**2, weight_var=2)
    assert k.nngp[0, 0] == 216 and k.ntk[0, 0] == 888


def _has_lang() -> bool:
    try:
        from tensorprog.lang import parse_expression  # noqa: F401
    except ImportError:
        return False
    return True


def empirical_ntk(xs, depth, s2, width, rng):
    """NTK of one finite network by explicit backprop (φ = x²): Σ_params ∂f(ξ)/∂θ ∂f(ξ')/∂θ."""
    xs = np.array(xs, float)
    d = xs.shape[1]
    Ws = [rng.standard_normal((width, d))] + [rng.standard_normal((width, width))
                                              for _ in range(depth - 1)]
    v = rng.standard_normal(width)
    sd = np.sqrt(s2)
    grads = []
    for xi in xs:
        hs, acts = [], [xi]
        for lvl, W in enumerate(Ws):
            fan = d if lvl == 0 else width
            h = sd / np.sqrt(fan) * W @ acts[-1]
            hs.append(h)
            acts.append(h**2)
        g = [sd / np.sqrt(width) * acts[-1]]  # ∂f/∂v
        back = sd / np.sqrt(width) * v * 2 * hs[-1]  # ∂f/∂h^L
        for lvl in range(depth - 1, -1, -1):
            fan = d if lvl == 0 else width
            g.append(np.outer(back, acts[lvl]).ravel() * sd / np.sqrt(fan))
            if lvl:
                back = (sd / np.sqrt(fan) * Ws[lvl].T @ back) * 2 * hs[lvl - 1]
        grads.append(np.concatenate(g))
    G = np.array(grads)
    return G @ G.T


def test_empirical_ntk_converges():
    """Width 1500, 6 seeds: mean empirical NTK within 6 standard errors (+2% bias allowance for
    the O(1/n) correction) of the exact limit."""
    xs = [[1, 0], [1, 1]]
    exact = np.array(mlp_kernels(xs, 2, x**2, weight_var=1).ntk, float)
    runs = np.array([empirical_ntk(xs, 2, 1.0, 1500, np.random.default_rng(s)) for s in range(6)])
    mean, se = runs.mean(0), runs.std(0, ddof=1) / np.sqrt(len(runs))
    assert np.all(np.abs(mean - exact) <= 6 * se + 0.02 * np.abs(exact))


def test_bad_inputs():
    with pytest.raises(ProgramError):
        mlp_kernels([[0, 0]], 1, x**2)
    with pytest.raises(ProgramError):
        mlp_kernels([[1, 0], [1]], 1, x**2)
    with pytest.raises(ProgramError):
        mlp_kernels([[1]], 0, x**2)
    with pytest.raises(ProgramError):
        mlp_kernels([[1]], 1, sp.Symbol("y") ** 2)
