"""Every kind of bad `.tp` input gives a ParseError or ProgramError that names file:line:col,
shows the line with a caret under the right column, and carries a hint.

Each case lists the expected (line, col) counted by hand from the text.
"""

from __future__ import annotations

import pytest

from tensorprog.errors import (
    CONTEXT_WIDTH,
    ParseError,
    ProgramError,
    SourceLoc,
    TensorProgError,
    clip_line,
)
from tensorprog.ir import Program
from tensorprog.lang import load, parse, parse_expression

V = "vector x ~ N(0, 1)\n"
VW = V + "matrix W ~ N(0, 1/n)\n"
VWS = VW + "scalar s = 2\n"

# (id, text, error type, line, col, message fragment, hint fragment or None)
CASES = [
    # ---- syntax
    ("incomplete", "x = 2 +\n", ParseError, 1, 8, "incomplete", "operand"),
    ("implicit-mul", V + "y = 2x\n", ParseError, 2, 6, "expected end of line", "'*'"),
    ("bad-char", "x = 3 $ 4\n", ParseError, 1, 7, "unexpected character '$'", "ASCII"),
    ("unicode-name", "η = 1\n", ParseError, 1, 1, "unexpected character", "ASCII"),
    ("unclosed", "x = (1 + 2\n", ParseError, 1, 5, "never closed", "')'"),
    ("unmatched", "x = 1 + 2)\n", ParseError, 1, 10, "unmatched ')'", "remove"),
    ("chained-eq", "a = 1 = 2\n", ParseError, 1, 7, "expected end of line", "one assignment"),
    ("no-rhs", "a =\n", ParseError, 1, 4, "nothing after 'a ='", "expression"),
    ("keyword-typo", "vectr x ~ N(0, 1)\n", ParseError, 1, 7, "expected '='", "'vector'"),
    ("bad-start", "+ x\n", ParseError, 1, 1, "cannot start", "statements"),
    ("two-args", V + "y = exp(x, 2)\n", ParseError, 2, 10, "one argument", "one argument"),
    ("empty-call", V + "y = exp()\n", ParseError, 2, 9, "needs an argument", "exp(x)"),
    ("not-N", "vector x ~ G(0, 1)\n", ParseError, 1, 12, "expected N(0, ...)", "N(0, 1)"),
    ("missing-tilde", "vector x N(0, 1)\n", ParseError, 1, 10, "expected '~'", "N(0, 1)"),
    ("bad-attr", VW + "h = W.X @ x\n", ParseError, 3, 7, "expected 'T'", "transpose"),
    (
        "too-deep",  # 101 nested tanh: the outermost one is the 101st level, one too many
        V + "y = " + "tanh(" * 101 + "x" + ")" * 101 + "\n",
        ParseError,
        2,
        5,
        "nested too deeply",
        "split",
    ),  # fmt: skip
    ("huge-power", "x = 3^10^10\n", ParseError, 1, 6, "too large", "bits"),
    ("huge-function-arg", "y = sqrt(10^100000 + 1)\n", ParseError, 1, 5, "too expensive", None),
    ("astronomical-arg", "y = sin(exp(exp(exp(3))))\n", ParseError, 1, 5, "astronomically", None),
    ("matrix-huge-power", "matrix W ~ N(0, (1/n + 1)^10000)", ProgramError, 1, 18, "by n", None),
    ("div-zero", V + "y = x/(1 - 1)\n", ParseError, 2, 6, "division by zero", None),
    ("log-zero", "y = log(0)\n", ParseError, 1, 5, "infinite or undefined", "log of 0"),
    ("complex", "y = (-8)^(1/3)\n", ParseError, 1, 9, "not a real number", "positive"),
    ("float-overflow", "y = 1e999\n", ParseError, 1, 5, "out of the range", "doubles"),
    (
        "unknown-function",
        V + "y = foo(x)\n",
        ParseError,
        2,
        5,
        "unknown function 'foo'",
        "tanh",
    ),  # fmt: skip
    (
        "mean-of-matmul-of-scalar",
        VWS + "m = 1 + mean(W @ s)\n",
        ProgramError,
        4,
        18,
        "needs a vector, but 's' is a scalar",
        "'*'",
    ),  # fmt: skip
    (
        "scaled-matrix",  # Python's precedence: 2 * W @ x is (2 * W) @ x
        VW + "h = 2 * W @ x + 1\n",
        ProgramError,
        3,
        5,
        "left side of '@' must be the name of a matrix",
        "c * (W @ x)",
    ),  # fmt: skip
    (
        "matmul-of-scalar-expression",
        VWS + "h = x + W @ (s + 1)\n",
        ProgramError,
        4,
        14,
        "needs a vector, but this operand is a scalar",
        "'*'",
    ),  # fmt: skip
    (
        "vector-at-vector",
        VW + "h = W @ x @ x\n",
        ProgramError,
        3,
        11,
        "the left side is a matrix product (a vector)",
        "W @ (V @ x)",
    ),  # fmt: skip
    (
        "matrix-in-function",
        VW + "h = tanh(W) @ x\n",
        ProgramError,
        3,
        5,
        "left side of '@' must be the name of a matrix",
        "W @ x",
    ),  # fmt: skip
    (
        "matrix-inside-function-arg",
        VW + "h = W @ tanh(W)\n",
        ProgramError,
        3,
        14,
        "matrix 'W' used inside an expression",
        "W @ x",
    ),  # fmt: skip
    (
        "tiny-float",
        "y = 1e-999\n",
        ParseError,
        1,
        5,
        "below the range",
        "10^-999",
    ),  # fmt: skip
    ("param-bad-kind", "param scalar s = 1\n", ParseError, 1, 7, "'vector' or 'matrix'", None),
    (
        "param-bad-role",
        "param vector b ~ N(0, 1) role=biass\n",
        ProgramError,
        1,
        31,
        "unknown parameter role 'biass'",
        "'bias'",
    ),  # fmt: skip
    (
        "param-matrix-role",
        "param matrix W ~ N(0, 1/n) role=bias\n",
        ProgramError,
        1,
        33,
        "role 'hidden'",
        "drop role",
    ),  # fmt: skip
    (
        "param-bad-attr",
        "param vector b ~ N(0, 1) rate=2\n",
        ParseError,
        1,
        26,
        "unknown parameter attribute 'rate'",
        "lr=",
    ),  # fmt: skip
    (
        "param-lr-name",
        "scalar s = 1\nparam vector b ~ N(0, 1) lr=s\n",
        ProgramError,
        2,
        29,
        "must be a number",
        "lr=1/2",
    ),  # fmt: skip
    ("input-twice", "input a, a\n", ProgramError, 1, 10, "listed twice", None),
    ("input-reserved", "input n\n", ProgramError, 1, 7, "'n' is reserved", "rename"),
    ("transpose-inside", VW + "h = W.T\n", ParseError, 3, 6, "'.T' is only allowed", "W.T @ x"),
    ("matrix-literal-in-expr", "y = [[1]]\n", ParseError, 1, 5, "matrix literal", "vector a, b"),
    # ---- names: unknown, use before definition (incl. a cycle), redefinition, reserved
    ("unknown-name", V + "y = x + z\n", ProgramError, 2, 9, "unknown name 'z'", "declare it"),
    (
        "typo-name",
        "vector xs ~ N(0, 1)\ny = xz + 1\n",
        ProgramError,
        2,
        5,
        "unknown name 'xz'",
        "did you mean 'xs'",
    ),  # fmt: skip
    (
        "cycle",
        "a = b + 1\nb = a\n",
        ProgramError,
        1,
        5,
        "'b' is used before it is defined (defined at line 2)",
        "cycle",
    ),  # fmt: skip
    (
        "use-before-def",
        "m = mean(x)\n" + V,
        ProgramError,
        1,
        10,
        "'x' is used before it is defined (defined at line 2)",
        "move the definition",
    ),  # fmt: skip
    ("self-reference", V + "y = y + x\n", ProgramError, 2, 5, "its own definition", "new name"),
    (
        "redefinition",
        V + "x = x + 1\n",
        ProgramError,
        2,
        1,
        "'x' is already defined (first defined at bad.tp:1:8)",
        "new name",
    ),  # fmt: skip
    ("redeclared-vector", V + V, ProgramError, 2, 8, "already defined", "new name"),
    ("reserved-target", "n = 1\n", ProgramError, 1, 1, "'n' is reserved", "rename"),
    ("reserved-function-name", "exp = 1\n", ProgramError, 1, 1, "'exp' is reserved", "rename"),
    ("width-in-expr", V + "y = x / n\n", ProgramError, 2, 9, "'n' is the width", "rename"),
    (
        "function-as-value",
        V + "y = exp * x\n",
        ProgramError,
        2,
        5,
        "'exp' is a function",
        "exp(x)",
    ),  # fmt: skip
    ("duplicate-in-decl", "vector a, a ~ N(0, 1)\n", ProgramError, 1, 11, "listed twice", None),
    ("output-unknown", V + "output q\n", ProgramError, 2, 8, "unknown name 'q'", "declare"),
    # ---- types
    (
        "matmul-on-scalar",
        VWS + "h = W @ s\n",
        ProgramError,
        4,
        9,
        "needs a vector, but 's' is a scalar",
        "'*'",
    ),  # fmt: skip
    (
        "matmul-vector-as-matrix",
        VW + "h = x @ x\n",
        ProgramError,
        3,
        5,
        "'x' is a vector, not a matrix",
        "'*'",
    ),  # fmt: skip
    (
        "matmul-scalar-as-matrix",
        VWS + "h = s @ x\n",
        ProgramError,
        4,
        5,
        "'s' is a scalar, not a matrix",
        "'*'",
    ),  # fmt: skip
    (
        "matmul-matrix-matrix",
        VW + "h = W @ W\n",
        ProgramError,
        3,
        9,
        "'W' is a matrix",
        "one matrix at a time",
    ),  # fmt: skip
    (
        "matmul-chain",  # (W @ W) @ x: a matrix times a matrix
        VW + "h = W @ W @ x\n",
        ProgramError,
        3,
        9,
        "'W' is a matrix",
        "one matrix at a time",
    ),  # fmt: skip
    (
        "matrix-in-expression",
        VW + "h = W * x\n",
        ProgramError,
        3,
        5,
        "matrix 'W' used inside an expression",
        "W @ x",
    ),  # fmt: skip
    ("matrix-in-mean", VW + "m = mean(W)\n", ProgramError, 3, 10, "matrix 'W'", "W.T @ x"),
    (
        "vector-in-scalar-decl",
        V + "scalar s = x + 1\n",
        ProgramError,
        2,
        12,
        "must be a number, but 'x' is a vector",
        "without 'scalar'",
    ),  # fmt: skip
    (
        "name-in-variance",
        "scalar s = 1\nvector x ~ N(0, s)\n",
        ProgramError,
        2,
        17,
        "must be a number, but 's' is a scalar",
        "numbers",
    ),  # fmt: skip
    ("output-matrix", VW + "output W\n", ProgramError, 3, 8, "'W' is a matrix", "scalar"),
    ("nonzero-mean", "vector x ~ N(1, 1)\n", ProgramError, 1, 14, "mean 0", "v = v0 + 1"),
    ("negative-variance", "vector x ~ N(0, -1)\n", ProgramError, 1, 17, "negative", ">= 0"),
    ("negative-matrix-var", "matrix W ~ N(0, -2/n)\n", ProgramError, 1, 17, "negative", ">= 0"),
    ("matrix-no-n", "matrix W ~ N(0, 2)\n", ProgramError, 1, 17, "divided by n", "2/n"),
    (
        "matrix-n-squared",
        "matrix W ~ N(0, 1/n^2)\n",
        ProgramError,
        1,
        17,
        "number divided by n",
        "1/n",
    ),  # fmt: skip
    (
        "matrix-name-var",
        "scalar s = 1\nmatrix W ~ N(0, s/n)\n",
        ProgramError,
        2,
        17,
        "'s' is a scalar",
        "2/n",
    ),  # fmt: skip
    (
        "cov-with-computed",
        V + "y = x^2\nvector z ~ N(0, 1), cov(z, y) = 0\n",
        ProgramError,
        3,
        28,
        "not an initial vector",
        "initial vectors",
    ),  # fmt: skip
    (
        "cov-not-involving",
        V + "vector y ~ N(0,1)\nvector z ~ N(0, 1), cov(x, y) = 0\n",
        ProgramError,
        3,
        25,
        "does not involve 'z'",
        "cov(z, x)",
    ),  # fmt: skip
    # ---- covariance: not symmetric / not PSD / wrong shape
    (
        "not-symmetric",
        "vector a, b ~ N(0, [[1, 1/2], [1/3, 1]])\n",
        ProgramError,
        1,
        32,
        "not symmetric: entry (2,1) is 1/3 but entry (1,2) is 1/2",
        "symmetric",
    ),  # fmt: skip
    (
        "not-psd",
        "vector a, b ~ N(0, [[1, 2], [2, 1]])\n",
        ProgramError,
        1,
        8,
        "not positive semidefinite",
        "|cov(a,b)|",
    ),  # fmt: skip
    (
        "not-psd-3x3",
        "vector a, b, c ~ N(0, [[1, 9/10, 9/10], [9/10, 1, -9/10], [9/10, -9/10, 1]])\n",
        ProgramError,
        1,
        8,
        "would be",
        "eigenvalues",
    ),  # fmt: skip
    (
        "not-psd-clause",
        "vector a ~ N(0, 1)\nvector b ~ N(0, 1), cov(b, a) = 2\n",
        ProgramError,
        2,
        8,
        "not positive semidefinite",
        "sqrt",
    ),  # fmt: skip
    (
        "not-psd-singular",
        "vector a, b ~ N(0, [[1, 1], [1, 1]])\nvector c ~ N(0, 1), cov(c, a) = 1/2\n",
        ProgramError,
        2,
        8,
        "'b' is fully determined by a",
        None,
    ),  # fmt: skip
    (
        "wrong-rows",
        "vector a, b ~ N(0, [[1, 0]])\n",
        ProgramError,
        1,
        20,
        "has 1 rows but 2 vectors",
        "2x2",
    ),  # fmt: skip
    (
        "wrong-row-length",
        "vector a, b ~ N(0, [[1, 0], [0]])\n",
        ProgramError,
        1,
        29,
        "has 1 entries, not 2",
        "2x2",
    ),  # fmt: skip
    (
        "ragged-matrix-syntax",
        "vector a, b ~ N(0, [1, 0])\n",
        ParseError,
        1,
        21,
        "matrix row",
        "[[1, 1/2], [1/2, 1]]",
    ),  # fmt: skip
]


@pytest.mark.parametrize(
    "text, etype, line, col, message, hint", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_error(text, etype, line, col, message, hint) -> None:
    with pytest.raises(TensorProgError) as info:
        parse(text, filename="bad.tp")
    e = info.value
    assert type(e) is etype, e.format()
    assert message in e.message, e.format()
    assert (e.loc.file, e.loc.line, e.loc.col) == ("bad.tp", line, col), e.format()
    assert e.hint, e.format()  # every error says how to fix it
    if hint is not None:
        assert hint in e.hint, e.format()
    # the formatted error: "file:line:col: kind: message", the source line, a caret under col
    out = e.format().splitlines()
    assert out[0].startswith(f"bad.tp:{line}:{col}: ")
    source_line = text.split("\n")[line - 1].replace("\t", " ")
    shown, caret = clip_line(source_line, col)  # long lines show a window around col
    assert shown == source_line or len(source_line) > CONTEXT_WIDTH
    assert out[1] == "    " + shown
    assert out[2] == "    " + " " * caret + "^"


def test_redefinition_message_names_the_first_place() -> None:
    with pytest.raises(ProgramError) as info:
        parse(V + "y = x\ny = x^2\n", filename="f.tp")
    assert "first defined at f.tp:2:1" in info.value.message


def test_too_long_integer_literal() -> None:
    with pytest.raises(ParseError, match="too long"):
        parse("x = " + "9" * 100_001)


def test_parse_expression_errors_point_into_the_text() -> None:
    with pytest.raises(ParseError) as info:
        parse_expression("a + * b")
    assert (info.value.loc.line, info.value.loc.col) == (1, 5)
    assert info.value.loc.line_text == "a + * b"
    loc = SourceLoc("model.py", 12, 9, "p.let('y', 'a +* b')")
    with pytest.raises(ParseError) as info:
        parse_expression("a +* b", loc=loc)
    assert (info.value.loc.file, info.value.loc.line, info.value.loc.col) == ("model.py", 12, 4)


@pytest.mark.parametrize("text", ["mean(x)", "W @ x", "W.T", "n + 1", "exp", "x y", ""])
def test_parse_expression_rejects_statement_syntax(text: str) -> None:
    with pytest.raises(TensorProgError):
        parse_expression(text)


def test_program_let_string_errors_are_located() -> None:
    p = Program()
    p.vector("a")
    with pytest.raises(ParseError):
        p.let("b", "a ^")


def test_load_missing_file(tmp_path) -> None:
    with pytest.raises(TensorProgError, match="cannot read"):
        load(tmp_path / "nope.tp")
