"""First-order MAML (TP4 §9.2) built by the transformation.

Expected values: (1) the direct finite-width MAML (actual matrices, ordinary backprop,
tensorprog.transforms.maml_direct) with the same draws, to 1e-10; (2) with zero inner steps MAML
is SGD on the query sets, so its limit equals train_program's on those examples exactly;
(3) a hand derivation for one outer step of the 1-hidden-layer linear net f = mean(nV·ξU):
with support (ξ_s, y_s), query (ξ_q, y_q), inner rate ε, at init f = 0, so the inner step moves
U by ε y_s ξ_s nV and nV by ε y_s ξ_s U; then f_q(θ') = mean((nV + εy_sξ_s U)(ξ_q)(U + εy_sξ_s nV))
→ ξ_q · 2 ε y_s ξ_s in the limit (E[nV²] = E[U²] = 1, E[U nV] = 0).
"""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest
import sympy as sp

from tensorprog.finite import run_finite
from tensorprog.ir import sym
from tensorprog.transforms import maml_direct, maml_program, train_program
from tensorprog.transforms.examples import linear_tasks, mlp_with_biases, one_hidden_layer
from tensorprog.zcalc import derive_limit
from tests.draws import draws_for

X = sym("x")


TASKS = linear_tasks([1, -1, F(1, 2), 2], [1, F(-1, 2)], [F(1, 2)])


@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("meta_batch", [1, 2])
def test_maml_program_equals_direct_maml(meta_batch, decoupled):
    model = mlp_with_biases(phi=sp.tanh(X) + X**2 / 8)
    opts = dict(inner_lr=F(1, 4), lr=F(1, 8), inner_steps=2, meta_batch=meta_batch,
                decoupled=decoupled, eval_tasks=TASKS[:1], momentum=F(1, 2))
    p = maml_program(model, TASKS, **opts)
    draws = draws_for(p, 48, seed=meta_batch)
    env = run_finite(p, 48, draws=draws)
    out = maml_direct(model, TASKS, width=48, draws=draws, **opts)
    assert set(out) == set(p.outputs)
    assert max(abs(env[k] - v) / max(1.0, abs(v)) for k, v in out.items()) < 1e-10
    assert np.ptp([v for k, v in out.items() if k.startswith("f")]) > 1e-2


def test_zero_inner_steps_is_sgd_on_the_query_sets():
    model = one_hidden_layer()
    tasks = linear_tasks([1, -1, 2], [1], [F(1, 2)])
    a = derive_limit(maml_program(model, tasks, inner_lr=F(1, 2), lr=F(1, 10), inner_steps=0))
    rows = [q[0][0] for _, q in tasks]
    ys = [q[1][0] for _, q in tasks]
    b = derive_limit(train_program(model, (rows, ys), lr=F(1, 10)))
    assert [a[f"f_{t}_0_q0"] for t in range(3)] == [b[f"f_{t}"] for t in range(3)]


def test_one_adaptation_step_by_hand():
    model = one_hidden_layer()
    xs, ys, xq, eps = F(3, 2), F(2, 3), F(-1, 2), F(1, 5)
    tasks = [(([[xs]], [ys]), ([[xq]], [0]))]
    lim = derive_limit(maml_program(model, tasks, inner_lr=eps, lr=F(1, 10)))
    assert lim["f_0_0_q0"] == xq * 2 * eps * ys * xs
