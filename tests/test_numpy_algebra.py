"""Every whitelisted function evaluates, and alike, in each numpy consumer: the finite-width
interpreter, the numeric limit engine and the trainer's φ (one shared numpy algebra).

Expected values are sympy's own evaluation of the function head at the same points (mpmath
arithmetic, independent of the numpy forms under test)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from tensorprog import Program
from tensorprog.finite import run_finite
from tensorprog.functions import FUNCTIONS
from tensorprog.ir import sym
from tensorprog.numeric.algebra import evaluate
from tensorprog.training import _activation

POINTS = np.array([-1.3, -0.4, 0.5, 1.7])
POSITIVE = np.array([0.3, 0.8, 1.5, 2.2])  # for log and sqrt


def _points(name: str) -> np.ndarray:
    return POSITIVE if name in ("log", "sqrt") else POINTS


def _expected(name: str, pts: np.ndarray) -> np.ndarray:
    head = FUNCTIONS[name].sympy
    return np.array([float(sp.N(head(sp.Float(float(v), 30)), 20)) for v in pts])


def _expr(name: str) -> sp.Expr:
    return FUNCTIONS[name].sympy(sym("x"))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_finite_width_interpreter(name):
    pts = _points(name)
    p = Program()
    p.vector("x")
    p.nonlin("y", _expr(name) + 0 * sym("x"))  # a Nonlin even if sympy folds f(x) oddly
    env = run_finite(p, width=len(pts), rng=0, draws={"x": pts})
    np.testing.assert_allclose(env["y"], _expected(name, pts), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_numeric_engine(name):
    pts = _points(name)
    got = evaluate(_expr(name), {"x": pts}, "y")
    np.testing.assert_allclose(got, _expected(name, pts), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_trainer(name):
    pts = _points(name)
    phi, _ = _activation(_expr(name))
    np.testing.assert_allclose(phi(pts), _expected(name, pts), rtol=1e-12, atol=1e-15)


def test_the_three_consumers_share_one_algebra():
    """One class, so that coverage cannot drift apart again."""
    from tensorprog import finite, training
    from tensorprog.numeric import algebra
    from tensorprog.numpy_algebra import NumpyAlgebra

    assert issubclass(algebra.ParticleAlgebra, NumpyAlgebra)
    assert finite.NumpyAlgebra is NumpyAlgebra
    assert training.NumpyAlgebra is NumpyAlgebra


def test_scalar_division_by_zero_is_named_at_finite_width_but_inf_on_particles():
    from tensorprog.errors import ProgramError

    p = Program()
    p.vector("x")
    p.scalar("z", 0)
    p.nonlin("y", sym("x") / sym("z"))
    with pytest.raises(ProgramError, match="'y'.*division by zero"):
        run_finite(p, width=3, rng=0)
    got = evaluate(1 / sym("z"), {"z": np.float64(0.0)}, "y")
    assert np.isinf(got)
