"""Random small forward programs (DAGs of MatMul, Nonlin and Moment over declared parameters):
the generated training program, run at finite width, equals the independent direct trainer
with the same draws (1e-9 relative; both float64).

Expected values: tensorprog.transforms.direct (actual matrices, ordinary backprop, sympy's own
derivatives), which shares no rule with the transformation.
"""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorprog.finite import run_finite
from tensorprog.ir import Program
from tensorprog.transforms import train_direct, train_program
from tests.draws import draws_for

WIDTH = 48


def _unary(k: int, a):
    return [sp.tanh(a), a**2 / 4, sp.sin(a), a / 2 + sp.tanh(a) / 2][k]


def build_model(ops: list[tuple[int, int, int, int]], n_mats: int, frozen: bool) -> Program:
    m = Program("random")
    U = m.param_vector("U", role="input")
    nV = m.param_vector("nV", role="output")
    V = m.vector("V") if frozen else m.param_vector("B", role="bias")
    mats = [m.param_matrix(f"W{i + 1}") for i in range(n_mats)]
    xi1, xi2 = m.input("xi1", "xi2")
    vecs = [m.nonlin("h0", xi1 * U + xi2 * V)]
    scalars = []
    for j, (kind, a, b, c) in enumerate(ops):
        x = vecs[a % len(vecs)]
        y = vecs[b % len(vecs)]
        name = f"v{j}"
        if kind == 0:  # MatMul, either orientation
            W = mats[c % n_mats]
            vecs.append(m.matmul(name, W.T if c % 2 else W, x))
        elif kind == 1:  # unary Nonlin (+ a scalar when there is one)
            e = _unary(c % 4, x)
            if scalars:
                e = e + scalars[c % len(scalars)] * y
            vecs.append(m.nonlin(name, e))
        elif kind == 2:  # binary Nonlin
            vecs.append(m.nonlin(name, x * y / 2 + x))
        else:  # Moment, later used as a coefficient
            scalars.append(m.moment(name, x * _unary(c % 4, y)))
    out = vecs[-1]
    f = nV * out
    m.moment("f", f + (scalars[-1] * U if scalars else 0))
    m.output("f")
    return m


ops_strategy = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 9), st.integers(0, 9), st.integers(0, 9)),
    min_size=1,
    max_size=6,
)


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops_strategy, n_mats=st.integers(1, 2), frozen=st.booleans(),
       decoupled=st.booleans(), batch=st.integers(1, 2), seed=st.integers(0, 10**6))
def test_random_model_program_equals_direct_trainer(ops, n_mats, frozen, decoupled, batch, seed):
    model = build_model(ops, n_mats, frozen)
    data = ([[1, F(-1, 2)], [F(1, 2), 1]], [1, -1])
    opts = dict(lr=F(1, 16), batch_size=batch, decoupled=decoupled, eval_inputs=[[1, 1]],
                epochs=2)
    p = train_program(model, data, **opts)
    draws = draws_for(p, WIDTH, seed)
    try:
        with np.errstate(all="ignore"):
            env = run_finite(p, WIDTH, draws=draws)
            out = train_direct(model, data, width=WIDTH, draws=draws, **opts).outputs()
    except OverflowError:
        return  # a diverging run of a random model: nothing to compare
    assert set(out) == set(p.outputs)
    a = np.array([env[k] for k in out])
    b = np.array(list(out.values()))
    if not np.all(np.abs(b) < 1e6):
        return  # diverging: rounding differences grow with the values; nothing to compare
    assert np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))) < 1e-9
