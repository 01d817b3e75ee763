"""Structure, naming, exactness and input validation of mlp_program.

Expected values: the conventions of docs/mlp.md (TP4 Definition 5.1 with all constants 1: which
objects are initial vectors and matrices, output names), and bad input refused with a
TensorProgError that names the problem.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy as sp

from tensorprog.builders import mlp_program, mlp_spec
from tensorprog.errors import ParametrizationError, TensorProgError
from tensorprog.ir import InitMatrix, InitVector, MatMul, sym

X = sym("x")


def kinds(p, cls):
    return [n.name for n in p.nodes if isinstance(n, cls)]


def test_initial_objects_and_outputs():
    p = mlp_program(
        3, X**2, [[1, 0], [0, 1], [1, 1], [2, 1]], [1, -1, 1, 0], Fraction(1, 50),
        batch_size=2, decoupled=True, eval_inputs=[[1, 2], [3, 1], [1, 1]],
    )
    assert kinds(p, InitVector) == ["U1_0", "U2_0", "nV_0"]
    assert kinds(p, InitMatrix) == ["W2", "W3", "Wtilde2", "Wtilde3"]
    assert p.outputs == [
        "f_0_0", "f_0_1", "loss_0_0", "loss_0_1",
        "f_1_0", "f_1_1", "loss_1_0", "loss_1_1",
        "f_2_0", "f_2_1", "f_2_2",
    ]
    # decoupled: no transposed MatMul anywhere
    assert not any(n.transpose for n in p.nodes if isinstance(n, MatMul))
    normal = mlp_program(3, X**2, [1, 2], [1, 1], Fraction(1, 50))
    assert kinds(normal, InitVector) == ["U_0", "nV_0"]
    assert kinds(normal, InitMatrix) == ["W2", "W3"]
    assert any(n.transpose for n in normal.nodes if isinstance(n, MatMul))
    assert normal.outputs == ["f_0", "loss_0", "f_1", "loss_1"]


def test_multipliers_set_initial_variances():
    p = mlp_program(
        2, X, [1], [1], 1, init_multipliers=[2, Fraction(1, 3), sp.sqrt(2)], decoupled=True
    )
    var = {n.name: n.var for n in p.nodes if isinstance(n, (InitVector, InitMatrix))}
    assert var == {"U_0": 4, "nV_0": 2, "W2": Fraction(1, 9), "Wtilde2": Fraction(1, 9)}


def test_exact_numbers_stay_exact_and_text_is_read_exactly():
    spec = mlp_spec(1, X, ["1/2", "0.25"], ["-3/4", 1], "0.02")
    assert spec.lr == sp.Rational(1, 50)
    assert spec.inputs == ((sp.Rational(1, 2),), (sp.Rational(1, 4),))
    assert spec.targets == (sp.Rational(-3, 4), 1)
    assert isinstance(mlp_spec(1, X, [1], [1], 0.02).lr, sp.Float)  # a float stays a float


def test_same_spec_same_program():
    a = mlp_program(2, X**2, [1, -1], [1, 1], Fraction(1, 10))
    b = mlp_program(2, X**2, [1, -1], [1, 1], "1/10")
    assert a == b


def test_text_activation_is_parsed_safely():
    pytest.importorskip("tensorprog.lang")
    a = mlp_program(2, "x^2", [1, -1], [1, 1], "1/10")
    b = mlp_program(2, X**2, [1, -1], [1, 1], "1/10")
    assert a == b
    with pytest.raises(TensorProgError):
        mlp_program(2, "__import__('os').system('true')", [1], [1], 1)


def test_emitted_text_round_trips():
    lang = pytest.importorskip("tensorprog.lang")
    p = mlp_program(2, X**2, [1, -1, 1, 1], [1, -1, 1, 1], "1/50", batch_size=2,
                    decoupled=True, loss="logistic", eval_inputs=[2])
    assert lang.parse(lang.to_tp(p)) == p


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(depth=0), "depth"),
        (dict(activation=sp.Symbol("y")), "only use the variable x"),
        (dict(activation=sp.Integer(3)), "constant"),
        (dict(activation=sp.Abs(X)), "derivative"),
        (dict(activation=[1]), "activation must be"),
        (dict(inputs=[]), "empty"),
        (dict(inputs=[[1, 2], [1]], targets=[1, 1]), "same dimension"),
        (dict(inputs=[0], targets=[1]), "zero vector"),
        (dict(targets=[1]), "targets"),
        (dict(loss="hinge"), "unknown loss"),
        (dict(loss="logistic", targets=[1, 0]), "labels ±1"),
        (dict(batch_size=3), "batches of 3"),
        (dict(batch_size=0), "batch_size"),
        (dict(lr=-1), "learning rate"),
        (dict(lr="fast"), "cannot read"),
        (dict(lr=float("nan")), "finite"),
        (dict(batch_reduction="max"), "batch reduction"),
        (dict(eval_inputs=[[1, 2]]), "coordinates"),
        (dict(init_multipliers=[1, 2]), "one entry per layer"),
        (dict(lr_multipliers=[1, 1, "x"]), "cannot read"),
    ],
)
def test_bad_input_gives_clear_errors(kwargs, match):
    base = dict(depth=2, activation=X, inputs=[1, -1], targets=[1, 1], lr=Fraction(1, 10))
    base.update(kwargs)
    with pytest.raises(TensorProgError, match=match):
        mlp_program(**base)


def test_unknown_parametrization():
    with pytest.raises(ParametrizationError, match="mup"):
        mlp_program(2, X, [1], [1], 1, parametrization="sp")
