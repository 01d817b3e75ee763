"""train_program encodes training faithfully: with the same random draws, the generated program
run at finite width (tensorprog.finite.run_finite) reproduces the direct trainer
(tensorprog.transforms.direct: actual n × n matrices, ordinary backprop with sympy's own
derivatives; no VJP rule shared) for every example model, batch 1 and 2, normal and decoupled,
and with momentum, weight decay and clipping.

Expected values: the direct trainer's trajectory, an independent implementation of the same
training run, compared to 1e-10 relative (both float64; only summation order differs).
"""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest
import sympy as sp

from tensorprog.errors import TensorProgError
from tensorprog.finite import run_finite
from tensorprog.ir import Program, sym
from tensorprog.transforms import train_direct, train_program
from tensorprog.transforms.examples import EXAMPLES
from tests.draws import draws_for

X = sym("x")
WIDTH = 64
RTOL = 1e-10
PHI = sp.tanh(X) + X**2 / 8  # nonlinear, non-odd


def dataset(model: Program, count: int, seed: int, loss: str = "mse"):
    rng = np.random.default_rng(seed)
    k, m = len(model.inputs), len(model.outputs)
    rows = [[F(int(v), 2) for v in rng.choice([-3, -2, -1, 1, 2, 3], k)] for _ in range(count)]
    if loss == "logistic":
        ys = [[int(v) for v in rng.choice([-1, 1], m)] for _ in range(count)]
    else:
        ys = [[F(int(v), 2) for v in rng.integers(-3, 4, m)] for _ in range(count)]
    return rows, ys


def compare(program: Program, model: Program, data, seed: int, **opts) -> tuple[float, float]:
    """(largest relative difference, spread of the predictions)."""
    p = train_program(model, data, **opts)
    draws = draws_for(p, WIDTH, seed)
    env = run_finite(p, WIDTH, draws=draws)
    out = train_direct(model, data, width=WIDTH, draws=draws, **opts).outputs()
    assert set(out) == set(p.outputs)
    a = np.array([env[k] for k in out])
    b = np.array(list(out.values()))
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(b))
    fs = [v for k, v in out.items() if not k.startswith("loss")]
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)))), float(np.ptp(fs))


@pytest.mark.parametrize("decoupled", [False, True], ids=["normal", "decoupled"])
@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_same_draws_same_trajectory(name, batch, decoupled):
    model = EXAMPLES[name](phi=PHI)
    data = dataset(model, 4, seed=len(name))
    opts = dict(lr=F(1, 4), batch_size=batch, decoupled=decoupled, epochs=2,
                eval_inputs=data[0][:2])
    err, spread = compare(None, model, data, seed=batch + 3 * decoupled, **opts)
    assert spread > 1e-2  # training moved the network
    assert err < RTOL


@pytest.mark.parametrize(
    "opts",
    [
        dict(momentum=F(1, 2)),
        dict(weight_decay=F(1, 10)),
        dict(clip_norm=F(1, 4)),
        dict(momentum=F(1, 2), weight_decay=F(1, 20), clip_norm=1, batch_size=2,
             batch_reduction="mean", decoupled=True),
        dict(loss="logistic"),
    ],
    ids=["momentum", "weight_decay", "clip", "all", "logistic"],
)
@pytest.mark.parametrize("name", ["rnn", "two_outputs", "normalized"])
def test_optimizer_options_same_trajectory(name, opts):
    model = EXAMPLES[name](phi=PHI)
    data = dataset(model, 4, seed=7, loss=opts.get("loss", "mse"))
    err, _ = compare(None, model, data, seed=11, lr=F(1, 4), epochs=2, **opts)
    assert err < RTOL


def test_options_change_the_trajectory():
    """Momentum, weight decay and clipping are not silently ignored (same draws, different f)."""
    model = EXAMPLES["rnn"](phi=PHI)
    data = dataset(model, 4, seed=7)
    base = dict(lr=F(1, 4), epochs=2)
    p = train_program(model, data, **base)
    draws = draws_for(p, WIDTH, 1)
    ref = train_direct(model, data, width=WIDTH, draws=draws, **base).outputs()["f_7"]
    for extra in [dict(momentum=F(1, 2)), dict(weight_decay=F(1, 2)), dict(clip_norm=F(1, 100))]:
        got = train_direct(model, data, width=WIDTH, draws=draws, **base, **extra).outputs()
        assert abs(got["f_7"] - ref) > 1e-3, extra


def test_frozen_objects_are_not_trained():
    """A plain (frozen) vector and matrix keep their values; gradients still flow through."""
    m = Program("frozen")
    U = m.param_vector("U", role="input")
    V = m.vector("V")
    A = m.matrix("A")
    W = m.param_matrix("W")
    (xi,) = m.input("xi")
    h = m.matmul("h", A, m.nonlin("u", xi * U))
    g = m.matmul("g", W, m.nonlin("a", sp.tanh(h)))
    m.moment("f", V * g)
    m.output("f")
    data = ([[1], [-1], [F(1, 2)]], [1, -1, 0])
    err, spread = compare(None, m, data, seed=2, lr=F(1, 2))
    assert err < RTOL and spread > 1e-2
    p = train_program(m, data, lr=F(1, 2))
    assert "V_1" not in p and "U_1" in p


def test_errors_are_clear():
    model = EXAMPLES["rnn"]()
    with pytest.raises(TensorProgError, match="3 are expected"):
        train_program(model, ([[1, 2]], [1]), lr=1)
    with pytest.raises(TensorProgError, match="labels ±1"):
        train_program(model, ([[1, 2, 3]], [2]), lr=1, loss="logistic")
    with pytest.raises(TensorProgError, match="steps or epochs"):
        train_program(model, ([[1, 2, 3]], [1]), lr=1, steps=2, epochs=2)
    with pytest.raises(TensorProgError, match="batches of 2"):
        train_program(model, ([[1, 2, 3]], [1]), lr=1, batch_size=2)
    m = Program("step")
    U = m.param_vector("U", role="input")
    nV = m.param_vector("nV", role="output")
    (xi,) = m.input("xi")
    h = m.nonlin("h", sp.Heaviside(xi * U) + U)
    m.moment("f", nV * h)
    m.output("f")
    with pytest.raises(TensorProgError, match="differentiate step"):
        train_program(m, ([[1]], [1]), lr=1)
    m2 = Program("noparam")
    v = m2.vector("v")
    m2.moment("f", v**2)
    m2.output("f")
    with pytest.raises(TensorProgError, match="no trainable parameter"):
        train_program(m2, ([[]], [1]), lr=1)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_direct_trainer_gradients_match_finite_differences(name):
    """The reference itself: its backprop gradient of f agrees with central differences of its
    own forward pass (directional derivative along a random direction, every parameter)."""
    from tensorprog.transforms.direct import _Direct
    from tensorprog.transforms.train import train_spec

    model = EXAMPLES[name](phi=PHI)
    data = dataset(model, 1, seed=3)
    spec = train_spec(model, data, lr=1)
    d = _Direct(model, spec, 32, None, 5)
    o = model.outputs[0]
    grads = d.backward(d.forward(spec.inputs[0]), {o: 1.0})
    rng = np.random.default_rng(0)
    for P, g in list(grads.items()):
        if isinstance(g, list):  # a matrix's gradient as rank-one factors (u, v): Σ u vᵀ
            grads[P] = sum(np.outer(u, v) for u, v in g)
    for P in model.params:
        D = rng.standard_normal(d.vals[P].shape)
        base = d.vals[P].copy()
        eps = 1e-6
        d.vals[P] = base + eps * D
        fp = d.forward(spec.inputs[0])[o]
        d.vals[P] = base - eps * D
        fm = d.forward(spec.inputs[0])[o]
        d.vals[P] = base
        fd = (fp - fm) / (2 * eps)
        assert float(np.sum(grads.get(P, 0.0) * D)) == pytest.approx(fd, rel=1e-5, abs=1e-8), P
