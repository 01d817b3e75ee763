"""The MLP program builder encodes SGD faithfully: with the same random draws, the program run
by the finite-width interpreter reproduces the real network trained by the direct trainer
(tensorprog.training: actual W and Wᵀ, real backprop, SGD; no code shared with the builder).

Expected values: the direct trainer's trajectory — an independent implementation of the same
network — compared to ~1e-10 relative (both are float64; only summation order differs).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from tensorprog.builders import mlp_program
from tensorprog.finite import run_finite
from tensorprog.ir import sym
from tensorprog.training import train_mlp
from tests.draws import draws_for

X = sym("x")
WIDTH = 96
T = 3
RTOL = 1e-10


def dataset(d: int, batch: int, loss: str, seed: int):
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1, 1], (T * batch, d))
    mags = rng.integers(1, 4, (T * batch, d))  # |ξ_j| ∈ {1/2, 1, 3/2}
    xs = [[int(s) * Fraction(int(m), 2) for s, m in zip(sr, mr)] for sr, mr in zip(signs, mags)]
    if d == 1:
        xs = [v[0] for v in xs]
    if loss == "logistic":
        ys = [int(v) for v in rng.choice([-1, 1], T * batch)]
    else:
        ys = [Fraction(int(v), 2) for v in rng.integers(-3, 4, T * batch)]
    evals = xs[:2]
    return xs, ys, evals


def compare(program_out: dict, trainer_out: dict) -> float:
    """Largest relative difference over the trainer's outputs (all must be finite)."""
    assert set(trainer_out) <= set(program_out)
    a = np.array([program_out[k] for k in trainer_out])
    b = np.array(list(trainer_out.values()))
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(b))
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


@pytest.mark.parametrize("decoupled", [False, True], ids=["normal", "decoupled"])
@pytest.mark.parametrize("loss", ["mse", "logistic"])
@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_same_draws_same_trajectory(depth, batch, d, loss, decoupled):
    xs, ys, evals = dataset(d, batch, loss, seed=10 * depth + d)
    phi = sp.tanh(X) + X**2 / 8  # nonlinear, non-odd: exercises φ and φ' everywhere
    eta = Fraction(1, 8)
    kw = dict(loss=loss, batch_size=batch, decoupled=decoupled, eval_inputs=evals)
    program = mlp_program(depth, phi, xs, ys, eta, **kw)
    draws = draws_for(program, WIDTH, seed=depth + 7 * batch + d)
    env = run_finite(program, WIDTH, draws=draws)
    res = train_mlp(depth, phi, xs, ys, eta, width=WIDTH, draws=draws, **kw)
    out = res.outputs()
    assert set(out) == set(program.outputs)
    assert len(out) == T * batch * 2 + len(evals)
    # Training moved the network (otherwise agreement would prove little).
    assert np.ptp(res.f) > 1e-2
    assert compare(env, out) < RTOL


def test_options_batch_mean_and_multipliers():
    """batch_reduction='mean' and per-layer init / learning-rate multipliers mean the same in
    the builder and the trainer (and they change the trajectory)."""
    xs, ys, evals = dataset(2, 2, "mse", seed=3)
    phi = sp.sin(X) + X / 2
    common = dict(batch_size=2, eval_inputs=evals)
    variants = [
        dict(batch_reduction="mean"),
        dict(init_multipliers=[Fraction(1, 2), 2, 3, Fraction(3, 2)]),
        dict(lr_multipliers=[2, Fraction(1, 3), 1, 4]),
        dict(
            batch_reduction="mean",
            decoupled=True,
            init_multipliers=[1, 2, Fraction(1, 2), 1],
            lr_multipliers=[Fraction(1, 2), 1, 3, 2],
        ),
    ]
    base = None
    for v in variants:
        program = mlp_program(3, phi, xs, ys, Fraction(1, 8), **common, **v)
        draws = draws_for(program, WIDTH, seed=5)
        env = run_finite(program, WIDTH, draws=draws)
        res = train_mlp(3, phi, xs, ys, Fraction(1, 8), width=WIDTH, draws=draws, **common, **v)
        assert compare(env, res.outputs()) < RTOL
        if base is None:
            base = res.f
        else:
            assert np.max(np.abs(res.f - base)) > 1e-3


def test_decoupled_differs_from_normal_with_shared_draws():
    """The decoupled flag matters at depth >= 2: same W₀, U, nV, different trajectories."""
    xs, ys, _ = dataset(1, 1, "mse", seed=1)
    p = mlp_program(2, X**2, xs, ys, Fraction(1, 10), decoupled=True)
    draws = draws_for(p, WIDTH, seed=2)
    normal = {k: v for k, v in draws.items() if not k.startswith("Wtilde")}
    a = train_mlp(2, X**2, xs, ys, Fraction(1, 10), width=WIDTH, draws=normal).f
    b = train_mlp(2, X**2, xs, ys, Fraction(1, 10), width=WIDTH, draws=draws, decoupled=True).f
    assert a[0, 0] == b[0, 0]  # the first forward pass does not involve backprop
    assert abs(a[1, 0] - b[1, 0]) > 1e-3


def test_trainer_rejects_unknown_draw_names():
    from tensorprog.errors import TensorProgError

    with pytest.raises(TensorProgError, match="unknown names"):
        train_mlp(2, X, [1], [1], 1, width=8, draws={"W1": np.zeros((8, 8))})
