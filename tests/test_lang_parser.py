"""The `.tp` parser on valid input: each statement becomes the Program node written out by hand
here with the Python API (tensorprog.ir), so the expected values are independent of the parser.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy as sp

from tensorprog.ir import (
    InitMatrix,
    InitScalar,
    InitVector,
    MatMul,
    Moment,
    Nonlin,
    Program,
    ScalarOp,
    sym,
)
from tensorprog.lang import load, parse, parse_expression

x, y, a, b = sym("x"), sym("y"), sym("a"), sym("b")

ISSUE_PROGRAM_1 = """\
# one SGD step of a 1-hidden-layer muP MLP, phi(x) = x^2
scalar eta = 1/50
scalar xi0 = 1
scalar y0 = 1
scalar xi1 = -1
vector U0 ~ N(0, 1)
vector nV0 ~ N(0, 1)
h0 = xi0 * U0
x0 = h0^2
f0 = mean(nV0 * x0)
chi0 = f0 - y0
nV1 = nV0 - eta * chi0 * x0
U1 = U0 - eta * chi0 * xi0 * nV0 * 2 * h0
h1 = xi1 * U1
x1 = h1^2
f1 = mean(nV1 * x1)
output f0, f1
"""

ISSUE_PROGRAM_2 = """\
vector x ~ N(0, 1)
matrix W ~ N(0, 1/n)
a = W.T @ x
c = a^3
b = W @ c
m1 = mean(b * x)
m2 = mean(b^2)
output m1, m2
"""


def test_issue_program_1_nodes() -> None:
    p = parse(ISSUE_PROGRAM_1)
    q = Program()
    inputs = [("eta", Fraction(1, 50)), ("xi0", 1), ("y0", 1), ("xi1", -1)]
    eta, xi0, y0, xi1 = (q.scalar(n, v) for n, v in inputs)
    U0, nV0 = q.vector("U0"), q.vector("nV0")
    h0 = q.nonlin("h0", xi0 * U0)
    x0 = q.nonlin("x0", h0**2)
    f0 = q.moment("f0", nV0 * x0)
    chi0 = q.scalar_op("chi0", f0 - y0)
    nV1 = q.nonlin("nV1", nV0 - eta * chi0 * x0)
    U1 = q.nonlin("U1", U0 - eta * chi0 * xi0 * nV0 * 2 * h0)
    h1 = q.nonlin("h1", xi1 * U1)
    x1 = q.nonlin("x1", h1**2)
    q.moment("f1", nV1 * x1)
    q.output("f0", "f1")
    assert p == q
    eta_value = p.node("eta").value
    assert isinstance(eta_value, sp.Rational) and eta_value == sp.Rational(1, 50)


def test_issue_program_2_nodes() -> None:
    p = parse(ISSUE_PROGRAM_2)
    assert p.nodes == [
        InitVector("x", sp.Integer(1)),
        InitMatrix("W", sp.Integer(1)),
        MatMul("a", "W", "x", transpose=True),
        Nonlin("c", a**3),
        MatMul("b", "W", "c", transpose=False),
        Moment("m1", b * x),
        Moment("m2", b**2),
    ]
    assert p.outputs == ["m1", "m2"]


def test_correlated_vectors_and_matrix_variance() -> None:
    p = parse(
        """
        vector a, b ~ N(0, [[1, 1/2],
                            [1/2, 1]])   # a matrix may span lines inside brackets
        matrix W ~ N(0, 2/n)
        matrix V ~ N(0, 1/(2*n))
        matrix U1, U2 ~ N(0, 3/n)
        vector c ~ N(0, 2), cov(c, a) = 1/3, cov(b, c) = -1/4
        vector d, e ~ N(0, 5)
        """
    )
    half = sp.Rational(1, 2)
    assert p.nodes == [
        InitVector("a", sp.Integer(1), ()),
        InitVector("b", sp.Integer(1), (("a", half),)),
        InitMatrix("W", sp.Integer(2)),
        InitMatrix("V", half),
        InitMatrix("U1", sp.Integer(3)),
        InitMatrix("U2", sp.Integer(3)),
        InitVector("c", sp.Integer(2), (("a", sp.Rational(1, 3)), ("b", sp.Rational(-1, 4)))),
        InitVector("d", sp.Integer(5), ()),  # a scalar variance: independent vectors
        InitVector("e", sp.Integer(5), ()),
    ]
    # the group form gives the same nodes as Program.vectors
    q = Program()
    q.vectors(["a", "b"], [[1, Fraction(1, 2)], [Fraction(1, 2), 1]])
    assert p.nodes[:2] == q.nodes


def test_singular_covariance_is_accepted() -> None:
    # PSD but not PD: b = a exactly (a Gaussian with a degenerate covariance is fine)
    p = parse("vector a, b ~ N(0, [[1, 1], [1, 1]])\nvector c ~ N(0, 0)")
    assert p.node("b").cov == (("a", sp.Integer(1)),)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("-x^2", -(x**2)),  # unary minus binds looser than ^
        ("2^-1", sp.Rational(1, 2)),
        ("2^3^2", sp.Integer(512)),  # ^ is right-associative
        ("2**3", sp.Integer(8)),  # ** is a synonym of ^
        ("x/2*y", x * y / 2),  # / and * are left-associative
        ("x - y - 1", x - y - 1),
        ("1/50", sp.Rational(1, 50)),  # exact, not 0.02
        ("-(x + y)", -x - y),
        ("+x", x),
        ("sqrt(x)", sp.sqrt(x)),
        ("abs(x) + step(y)", sp.Abs(x) + sp.Heaviside(y)),
        ("exp(-x^2/2)", sp.exp(-(x**2) / 2)),
        ("2*x^3 - x", 2 * x**3 - x),
        ("123456789012345678901234567890", sp.Integer(123456789012345678901234567890)),
    ],
)
def test_expression_precedence_and_exact_numbers(text: str, expected: sp.Expr) -> None:
    assert parse_expression(text) == expected


@pytest.mark.parametrize("text, value", [("0.1", 0.1), ("1e-3", 1e-3), ("2.5E2", 250.0),
                                         (".5", 0.5), ("3.", 3.0)])  # fmt: skip
def test_decimal_literals_are_floats(text: str, value: float) -> None:
    e = parse_expression(text)
    assert isinstance(e, sp.Float) and float(e) == value


def test_float_marks_scalar_inexact() -> None:
    p = parse("scalar eta = 0.02\nscalar r = 1/50")
    assert isinstance(p.node("eta").value, sp.Float)
    assert p.node("r").value == sp.Rational(1, 50)


def test_functions_from_the_whitelist_parse() -> None:
    p = parse(
        "vector x ~ N(0, 1)\n"
        "y = exp(x) + tanh(x) + sigmoid(x) + relu(x) + erf(x) + gelu(x) + silu(x) + sin(x)"
        " + cos(x) + abs(x) + sqrt(abs(x)) + step(x) + log(1 + x^2)\n"
        "m = mean(y)"
    )
    assert isinstance(p.node("y"), Nonlin)
    names = {type(f).__name__ for f in p.node("y").expr.atoms(sp.Function)}
    assert {"exp", "tanh", "sigmoid", "relu", "erf", "gelu", "silu", "sin", "cos", "Abs",
            "Heaviside", "log"} <= names  # fmt: skip


def test_scalar_assignments_are_scalar_ops() -> None:
    p = parse("scalar a = 2\nb = a^2 + 1\nvector v ~ N(0,1)\nc = b * v\nd = 3")
    assert p.node("b") == ScalarOp("b", a**2 + 1)
    assert isinstance(p.node("c"), Nonlin)
    assert p.node("d") == ScalarOp("d", sp.Integer(3))  # not an InitScalar: no 'scalar'
    assert p.node("a") == InitScalar("a", sp.Integer(2))


def test_comments_blank_lines_and_crlf() -> None:
    p = parse("# header\r\n\r\nvector x ~ N(0, 1)   # trailing comment\r\n\tm = mean(x^2)\r\n")
    assert p.names() == ["x", "m"]


def test_locations_are_recorded() -> None:
    p = parse("vector x ~ N(0, 1)\n  m = mean(x^2)\n", filename="prog.tp")
    loc = p.node("m").loc
    assert (loc.file, loc.line, loc.col, loc.line_text) == ("prog.tp", 2, 3, "  m = mean(x^2)")


def test_outputs_may_be_vectors_and_repeat() -> None:
    p = parse("vector x ~ N(0, 1)\nm = mean(x)\noutput m\noutput x, m")
    assert p.outputs == ["m", "x"]


def test_program_let_with_string_uses_the_safe_parser() -> None:
    p = Program()
    p.vector("a")
    p.scalar("s", 2)
    p.let("b", "a^2 + s")
    assert p.node("b") == Nonlin("b", a**2 + sym("s"))
    assert p.node("b").expr.free_symbols == {sym("a"), sym("s")}  # real=True symbols


def test_parse_expression_never_evaluates_python() -> None:
    # text that sympify/eval would execute is just a syntax error here
    from tensorprog.errors import TensorProgError

    for text in ["__import__('os').system('true')", "x.__class__", "lambda: 1", "x; y"]:
        with pytest.raises(TensorProgError):
            parse_expression(text)


def test_load_names_program_after_file(tmp_path) -> None:
    f = tmp_path / "my_prog.tp"
    f.write_text(ISSUE_PROGRAM_2)
    p = load(f)
    assert p.name == "my_prog" and p == parse(ISSUE_PROGRAM_2)
    assert p.node("a").loc.file == str(f)


def test_empty_program() -> None:
    p = parse("# nothing\n\n")
    assert len(p) == 0 and p.outputs == []
