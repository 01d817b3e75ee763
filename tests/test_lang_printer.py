"""The printer: to_tp(program) is .tp text with parse(to_tp(p)) == p.

Random programs are built with the Python API (tensorprog.ir.Program), never with the parser,
so the round trip checks the printer and the parser against an independent construction.
Equality is Program.__eq__: the same nodes (structurally equal sympy expressions) in the same
order and the same outputs.
"""

from __future__ import annotations

import glob
import os
from fractions import Fraction

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorprog.errors import ProgramError
from tensorprog.functions import FUNCTIONS
from tensorprog.ir import Program, sym
from tensorprog.lang import expr_to_tp, load, parse, parse_expression, to_tp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

x, y, z = sym("x"), sym("y"), sym("z")


# ---------------------------------------------------------------- expressions sympy is picky about
@pytest.mark.parametrize(
    "expr",
    [
        2 * y * (x + 1),  # printed naively as 2*(x + 1)*y, sympy would distribute the 2
        -(x + 1) * (y + 1),  # likewise for the unary minus
        2 * (x + 1) * (y + 1),
        -2 * (x + 1) / y,
        sp.Rational(-2, 3) * x,
        x / (y * z),
        x / (y + 1) ** 2,
        1 / x,
        -1 / x,
        sp.Rational(3, 2) / x,
        x ** sp.Rational(-1, 2),
        sp.sqrt(x + 1),
        sp.sqrt(2) * x / 2,
        sp.Rational(1, 2) ** x,
        (-1) ** x,
        2 ** (2 * x),
        x**x,
        sp.exp(-(x**2) / 2),
        sp.exp(1) * x,
        sp.Float(0.1) + sp.Float(0.2) * x,
        sp.Float(-2.5) * x * y,
        x ** sp.Float(0.5),
        sp.Float(1e-5) ** x,
        sp.Float(1.0) * x,
        x - sp.Float(0.5),
        x - y * (z + 1),
        sp.Heaviside(x) + sp.Abs(y - 1),
        sp.log(1 + x**2) * sp.tanh(y),
        10**60 * x + sp.Rational(1, 3**40),
    ],
    ids=str,
)
def test_expression_round_trip(expr: sp.Expr) -> None:
    text = expr_to_tp(expr)
    assert parse_expression(text) == expr, text


def test_expression_printing_is_readable() -> None:
    # spot checks of the concrete syntax (the round trip alone would accept ugly text)
    assert expr_to_tp(x**2 + 1) == "1 + x^2" or expr_to_tp(x**2 + 1) == "x^2 + 1"
    assert expr_to_tp(sp.Rational(1, 50) * x) == "1/50*x"
    assert expr_to_tp(x / y) == "x/y"
    assert expr_to_tp(sp.sqrt(x)) == "sqrt(x)"
    assert expr_to_tp(-x) == "-x"
    assert expr_to_tp(sp.Float(0.1)) == "0.1"
    assert expr_to_tp(sp.Heaviside(x)) == "step(x)"


def test_huge_integers_print_and_parse() -> None:
    # more than CPython's 4300-digit int<->str limit
    big = sp.Integer(7) ** 7000
    assert parse_expression(expr_to_tp(big * x)) == big * x


@pytest.mark.parametrize(
    "expr", [sp.pi * x, sp.Max(x, y), sp.Float(float("inf")) + x, sp.I * x], ids=str
)
def test_unprintable_expressions_raise_program_error(expr: sp.Expr) -> None:
    with pytest.raises(ProgramError, match="cannot write"):
        expr_to_tp(expr)


# ---------------------------------------------------------------- whole programs
def test_vector_declarations_round_trip() -> None:
    p = Program()
    p.vector("a")
    p.vector("b", 2)  # independent, different variance: own line
    p.vectors(["c", "d", "e"], [[1, Fraction(1, 2), 0], [Fraction(1, 2), 1, 0], [0, 0, 3]])
    p.vector("f", 1, cov={"a": Fraction(1, 3), "d": Fraction(-1, 4)})  # clauses
    p.vector("g", Fraction(1, 2))
    p.vector("h", Fraction(1, 2))  # shares a line with g
    text = to_tp(p)
    assert "vector c, d, e ~ N(0, [[1, 1/2, 0], [1/2, 1, 0], [0, 0, 3]])" in text
    assert "vector f ~ N(0, 1), cov(f, a) = 1/3, cov(f, d) = -1/4" in text
    assert "vector g, h ~ N(0, 1/2)" in text
    assert parse(text) == p


def test_matrix_variances_round_trip() -> None:
    p = Program()
    for i, v in enumerate([1, 2, Fraction(1, 2), Fraction(3, 7), 0.5, 0]):
        p.matrix(f"W{i}", v)
    text = to_tp(p)
    assert "matrix W0 ~ N(0, 1/n)" in text and "matrix W2 ~ N(0, 1/(2*n))" in text
    assert parse(text) == p


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "programs", "*.tp"))))
def test_library_programs_round_trip(path: str) -> None:
    p = load(path)
    assert parse(to_tp(p)) == p


# ---------------------------------------------------------------- hypothesis: random programs
rationals = st.builds(Fraction, st.integers(-12, 12), st.integers(1, 9))  # exact values
floats = st.floats(-50, 50, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-3)
numbers = st.one_of(rationals, rationals, floats)
FUNCS = sorted(FUNCTIONS)


def _number(v) -> sp.Expr:
    return sp.Float(v) if isinstance(v, float) else sp.Rational(v.numerator, v.denominator)


@st.composite
def expressions(draw, names: list[str], depth: int = 3) -> sp.Expr:
    """A random sympy expression over ``names`` (built with sympy operators, so canonical)."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        if names and draw(st.booleans()):
            return sym(draw(st.sampled_from(names)))
        return _number(draw(numbers))
    kind = draw(st.sampled_from(["add", "sub", "mul", "div", "pow", "func", "neg"]))
    a = draw(expressions(names, depth - 1))
    if kind == "neg":
        return -a
    if kind == "func":
        # functions only of symbolic arguments: log(-3) would be complex
        return FUNCTIONS[draw(st.sampled_from(FUNCS))].sympy(a) if a.free_symbols else a
    if kind == "pow":
        if a.free_symbols:
            e = draw(st.sampled_from([2, 3, -1, -2, sp.Rational(1, 2), sp.Rational(-1, 3)]))
            return a**e
        return a ** draw(st.integers(0, 3))
    b = draw(expressions(names, depth - 1))
    if kind == "add":
        return a + b
    if kind == "sub":
        return a - b
    if kind == "mul":
        return a * b
    return a / b if not b.is_zero else a


BAD = (sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I)


def renormalize(e: sp.Expr) -> sp.Expr:
    """Rebuild ``e`` bottom-up with sympy's evaluation until nothing changes.

    Text can only denote an *evaluated* tree, and sympy's evaluation is not always
    idempotent: e.g. Abs(-Abs(x)) evaluates to Abs(Abs(x)), whose own evaluation is Abs(x).
    Such a tree has no exact text form, so the generators keep expressions in this normal
    form (which is what the parser itself produces)."""
    for _ in range(10):
        new = e.func(*[renormalize(a) for a in e.args]) if e.args else e
        if new == e:
            return e
        e = new
    return e


def _ok(e: sp.Expr) -> bool:
    """Real and finite: no zoo/nan/oo/I, no (-1)^(2/3)-style complex powers (the parser
    refuses those, rightly), and floats that are IEEE doubles (not huge, not subnormal: the
    language's decimal literals are doubles, so only those round-trip)."""
    complex_pow = any(
        p.base.is_number and p.base.is_negative and p.exp.is_integer is False
        for p in e.atoms(sp.Pow)
    )
    return (
        not e.has(*BAD)
        and not complex_pow
        and all(f == 0 or 1e-300 < abs(f) < 1e300 for f in e.atoms(sp.Float))
    )


@st.composite
def programs(draw) -> Program:
    """Random valid programs through the Python API: scalars, vectors (independent, groups with
    a PSD covariance A Aᵀ, single vectors correlated with earlier ones), matrices, MatMuls,
    Nonlins, Moments, ScalarOps and outputs."""
    p = Program("random")
    scalars: list[str] = []
    vectors: list[str] = []
    inits: list[str] = []
    matrices: list[str] = []
    count = [0]

    def fresh(prefix: str) -> str:
        count[0] += 1
        return f"{prefix}{count[0]}"

    for _ in range(draw(st.integers(1, 16))):
        step = draw(
            st.sampled_from(
                ["scalar", "vector", "group", "corr", "matrix", "matmul", "matmul",
                 "nonlin", "nonlin", "nonlin", "moment", "moment", "scalar_op"]
            )
        )  # fmt: skip
        if step == "scalar":
            scalars.append(str(p.scalar(fresh("s"), draw(numbers))))
        elif step == "vector":
            var = abs(draw(rationals))
            inits.append(str(p.vector(fresh("v"), var)))
            vectors.append(inits[-1])
        elif step == "group":
            k = draw(st.integers(2, 3))
            A = sp.Matrix(k, k, [_number(draw(rationals)) for _ in range(k * k)])
            C = A * A.T  # PSD by construction
            names = [fresh("g") for _ in range(k)]
            p.vectors(names, C.tolist())
            inits += names
            vectors += names
        elif step == "corr" and inits:
            # v = sum b_j a_j + noise: covariances b^T C, variance b^T C b + s (PSD)
            from tensorprog.ir import init_covariance

            others = draw(st.lists(st.sampled_from(inits), min_size=1, max_size=3, unique=True))
            allnames, Cfull = init_covariance(p)
            idx = [allnames.index(o) for o in others]
            b = sp.Matrix([_number(draw(rationals)) for _ in others])
            cov = Cfull[:, idx] * b  # with every initial vector, not only the chosen ones
            var = (b.T * Cfull.extract(idx, idx) * b)[0, 0] + abs(_number(draw(rationals)))
            name = fresh("c")
            p.vector(
                name,
                var,
                cov={a: cov[i] for i, a in enumerate(allnames) if a in others or cov[i] != 0},
            )
            inits.append(name)
            vectors.append(name)
        elif step == "matrix":
            v = draw(st.one_of(rationals.map(abs), st.just(Fraction(2))))
            matrices.append(p.matrix(fresh("W"), v).name)
        elif step == "matmul" and matrices and vectors:
            W = draw(st.sampled_from(matrices))
            vectors.append(
                str(p.matmul(fresh("h"), W, draw(st.sampled_from(vectors)), draw(st.booleans())))
            )
        elif step in ("nonlin", "moment") and vectors:
            v = sym(draw(st.sampled_from(vectors)))
            e = renormalize(
                draw(expressions(vectors + scalars)) * v + draw(expressions(vectors + scalars))
            )
            if not _ok(e) or not any(str(s) in vectors for s in e.free_symbols):
                continue
            if step == "nonlin":
                vectors.append(str(p.nonlin(fresh("x"), e)))
            else:
                scalars.append(str(p.moment(fresh("m"), e)))
        elif step == "scalar_op":
            e = renormalize(draw(expressions(scalars)))
            if _ok(e):
                scalars.append(str(p.scalar_op(fresh("t"), e)))
    named = scalars + vectors
    outs = draw(st.lists(st.sampled_from(named), max_size=3)) if named else []
    if outs:
        p.output(*outs)
    return p


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_programs_round_trip(p: Program) -> None:
    text = to_tp(p)
    q = parse(text, filename="random.tp")  # the Program is named after the file
    assert q == p, text
    assert to_tp(q) == text  # printing is deterministic


@settings(max_examples=100, deadline=None)
@given(expressions(["x", "y", "z"], depth=4))
def test_random_expressions_round_trip(e: sp.Expr) -> None:
    e = renormalize(e)
    if not _ok(e):
        return
    text = expr_to_tp(e)
    assert parse_expression(text) == e, text
