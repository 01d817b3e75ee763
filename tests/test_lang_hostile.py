"""Hostile inputs to the `.tp` front end, by class (generated inputs, not a fixed list):

* long flat sums/products and thousands of redundant parentheses parse and fold without
  recursion (parse, Program.let, an activation read from text, check/derive); the depth of
  the *resulting* expression tree is limited to MAX_DEPTH with a located error;
* decimal literals are 0 or normal doubles (1e-999 is refused, never silently 0), and a float
  that sympy folds away (0.0*1 = 0) still marks the result inexact;
* an error far into a huge line shows a clipped window of it with the caret in place.

Expected values are derived by hand in each docstring (Gaussian moments E[x^2] = 1,
E[x^(2k)] = (2k-1)!!, E[x^odd] = 0), not taken from the code under test.
"""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorprog import derive_limit
from tensorprog.errors import CONTEXT_WIDTH, ParseError, TensorProgError, clip_line
from tensorprog.expr import Algebra, fold, walk
from tensorprog.ir import Program, sym
from tensorprog.lang import parse, parse_expression
from tensorprog.lang.expr import MAX_DEPTH

x = sym("x")


def _frac(q: Fraction) -> str:
    return f"{q.numerator}/{q.denominator}" if q.denominator != 1 else str(q.numerator)


# ---------------------------------------------------------------- long flat expressions
@settings(max_examples=5, deadline=None)
@given(
    st.lists(
        st.fractions(min_value=-5, max_value=5, max_denominator=7), min_size=325, max_size=500
    ),
    st.booleans(),
)
def test_long_sums_parse_and_derive(coeffs: list[Fraction], minus: bool) -> None:
    """y = c_1*x + c_2*x - ... (hundreds of terms); E[y x] = sum of the signed c_k since
    E[x^2] = 1. Today's left-deep fold of such a sum recursed ~650 Python frames."""
    signs = ["-" if minus and k % 2 else "+" for k in range(len(coeffs))]
    body = "".join(f" {s} ({_frac(c)})*x" for s, c in zip(signs, coeffs))
    text = f"vector x ~ N(0, 1)\ny = 0{body}\nm = mean(y * x)\noutput m\n"
    expected = sum((-c if s == "-" else c) for s, c in zip(signs, coeffs))
    lim = derive_limit(parse(text))
    assert lim.outputs["m"] == sp.Rational(expected.numerator, expected.denominator)


@pytest.mark.parametrize("n", [325, 5000, 30_000])
def test_flat_sum_of_many_terms_is_fast(n: int) -> None:
    """n copies of x is n*x (one sympy Add call, not n nested ones)."""
    assert parse_expression(" + ".join(["x"] * n)) == n * x


@pytest.mark.parametrize("n", [325, 3000])
def test_long_products(n: int) -> None:
    """x * x * ... (n factors) = x^n, and 2 * 2 * ... = 2^n exactly; E[x^n] = 0 for odd n and
    (n-1)!! for even n."""
    assert parse_expression(" * ".join(["x"] * n)) == x**n
    assert parse_expression("*".join(["2"] * n)) == sp.Integer(2) ** n
    p = parse("vector x ~ N(0, 1)\ny = " + " * ".join(["x"] * 12) + "\nm = mean(y)\noutput m")
    assert derive_limit(p).outputs["m"] == 11 * 9 * 7 * 5 * 3  # E[x^12] = 11!!


def test_long_sum_in_program_let_and_activation() -> None:
    """Program.let and an activation read from text go through the same parser: 325 terms of
    x/325 add up to x."""
    from tensorprog.builders.mlp import read_activation

    text = " + ".join(["x/325"] * 325)
    p = Program()
    p.vector("x")
    p.let("y", text)
    assert p.node("y").expr == x
    assert read_activation(text) == x


def test_long_sum_through_the_cli(tmp_path) -> None:
    """`tensorprog derive` on a file with a 2000-term sum: y = x + ... + x = 2000 x, so
    mean(y*x) = 2000."""
    f = tmp_path / "long.tp"
    f.write_text("vector x ~ N(0, 1)\ny = " + " + ".join(["x"] * 2000) + "\nm = mean(y*x)\n"
                 "output m\n")  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "tensorprog", "derive", str(f), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "2000" in out.stdout


# ---------------------------------------------------------------- nesting
@pytest.mark.parametrize("levels", [100, 5000])
def test_redundant_parentheses_cost_nothing(levels: int) -> None:
    assert parse_expression("(" * levels + "x + 1" + ")" * levels) == x + 1
    # nested groups that flatten: ((x + 1) + 1) + ... = x + levels
    assert parse_expression("(" * levels + "x" + " + 1)" * levels) == x + levels


def test_deep_tree_up_to_the_limit_derives_exactly() -> None:
    """Horner form y = (((x + 1)*x + 1)*x + ...) with k levels has tree depth 2k; at the limit
    it parses and derives: y = x^k + x^(k-1) + ... + 1, so E[y] = sum over even j <= k of
    (j-1)!! (Gaussian moments)."""
    k = MAX_DEPTH // 2
    text = "(" * k + "x" + " + 1)*x" * (k - 1) + " + 1)"
    p = parse(f"vector x ~ N(0, 1)\ny = {text}\nm = mean(y)\noutput m\n")

    def dfact(j: int) -> int:
        return 1 if j <= 0 else j * dfact(j - 2)

    expected = sum(dfact(j - 1) for j in range(0, k + 1, 2))
    assert derive_limit(p).outputs["m"] == expected


@pytest.mark.parametrize("func", ["tanh", "exp", "-sqrt"])
def test_too_deep_is_a_located_error(func: str) -> None:
    """MAX_DEPTH + 5 nested non-flattening calls: a ParseError on line 2 naming the limit."""
    text = "vector x ~ N(0, 1)\ny = " + f"{func}(" * (MAX_DEPTH + 5) + "x" + ")" * (MAX_DEPTH + 5)
    with pytest.raises(ParseError, match="nested too deeply") as info:
        parse(text)
    assert info.value.loc.line == 2


class _Depth(Algebra):
    def is_leafish(self, node):
        return node.is_Number

    def symbol(self, s):
        return 0

    def constant(self, c):
        return 0

    def add(self, a, b):
        return max(a, b)

    mul = add

    def power(self, base, exponent, node):
        return base + 1

    def function(self, name, args, node):
        return args[0] + 1


def test_fold_and_walk_do_not_recurse_on_depth() -> None:
    """A 5000-level tanh(tanh(...)) built by hand: fold counts 5000 levels, walk sees 5001
    subtrees (no RecursionError at Python's default limit of 1000)."""
    e = x
    for _ in range(5000):
        e = sp.tanh(e, evaluate=False)
    assert fold(e, _Depth()) == 5000
    assert sum(1 for _ in walk(e)) == 5001


# ---------------------------------------------------------------- number literals
@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 99), st.integers(0, 999), st.integers(-1200, 1200), st.sampled_from("eE")
)
def test_decimal_literals_are_never_silently_zero(whole, frac, exp10, e) -> None:
    """A decimal literal is a double equal to float(text), is 0 only when its digits are, and
    is refused (not rounded to 0 or inf) outside the normal double range."""
    text = f"{whole}.{frac:03d}{e}{exp10}"
    value = float(text)
    digits_zero = whole == 0 and frac == 0
    try:
        got = parse_expression(text)
    except ParseError as err:
        assert not digits_zero
        assert value == 0 or abs(value) < 2.2250738585072014e-308 or value == float("inf")
        assert "range of double-precision" in err.message
        return
    assert isinstance(got, sp.Float) and float(got) == value
    assert (float(got) == 0) == digits_zero


@pytest.mark.parametrize("text", ["1e-999", "1e-400", "5e-324", "1e999", "1.8e308"])
def test_out_of_range_literals(text: str) -> None:
    with pytest.raises(ParseError, match="range of double-precision"):
        parse_expression(text)


def test_exact_tiny_numbers_are_exact() -> None:
    assert parse_expression("10^-999") == sp.Rational(1, 10**999)


@pytest.mark.parametrize(
    "text, out",
    [
        ("scalar s = 0.0*1\noutput s", "s"),  # sympy: Float(0.0) * 1 = Integer 0
        ("scalar a = 1\nb = 0.5*a - 0.5*a + a\noutput b", "b"),  # the floats cancel
        ("vector x ~ N(0, 1)\nm = mean(0.0*x + x^2)\noutput m", "m"),
    ],
)
def test_a_float_that_folds_away_still_marks_inexact(text: str, out: str) -> None:
    lim = derive_limit(parse(text))
    assert not lim.is_exact(out)


def test_exact_stays_exact() -> None:
    lim = derive_limit(parse("scalar s = 0*1\nvector x ~ N(0, 1)\nm = mean(x^2)\noutput s, m"))
    assert lim.is_exact("s") and lim.is_exact("m")


# ---------------------------------------------------------------- error context
@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3000), st.data())
def test_clipped_context_keeps_the_caret_on_the_column(length: int, data) -> None:
    text = "".join(chr(ord("a") + (i * 7) % 26) for i in range(length))
    col = data.draw(st.integers(1, length))
    shown, caret = clip_line(text, col)
    assert len(shown) <= CONTEXT_WIDTH + 6
    assert shown[caret] == text[col - 1]


def test_error_at_column_a_million_is_short() -> None:
    line = "y = " + "x + " * 250_000 + "$"
    with pytest.raises(TensorProgError) as info:
        parse("vector x ~ N(0, 1)\n" + line)
    msg = info.value.format()
    assert info.value.loc.col == len(line)
    assert len(msg) < 600, len(msg)
    source, caret = msg.splitlines()[1:3]
    assert source[caret.index("^")] == "$"


@pytest.mark.parametrize("where", ["y = x + {}\n", "{} = 1\n", "output {}\n"])
def test_huge_names_are_refused_without_echo(where: str) -> None:
    text = "vector x ~ N(0, 1)\n" + where.format("a" * 1_000_000)
    with pytest.raises(ParseError, match="too long") as info:
        parse(text)
    assert len(info.value.format()) < 600


_ATOMS = [x, sym("y"), sp.Integer(2), sp.Rational(-1, 3), sp.Float(0.25), x + 1, 2 * x,
          x**2, sp.tanh(x), -x, x * sym("y"), sp.Float(-1.5) * x]  # fmt: skip


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(_ATOMS), min_size=2, max_size=8))
def test_chains_equal_the_left_fold(terms: list[sp.Expr]) -> None:
    """A chain a + b + c (a * b * c) is the same expression as Python's left-to-right
    (a + b) + c: folded pairwise when short, and for a long float-free sum one sympy Add, which
    flattens nested Adds and collects like terms (checked here with over 256 terms)."""
    for op in ("+", "*"):
        left = terms[0]
        for t in terms[1:]:
            left = left + t if op == "+" else left * t
        text = f" {op} ".join(f"({t})".replace("**", "^") for t in terms)
        if any(t.has(sp.Float) for t in terms) and not left.has(sp.Float):
            # a float that cancelled (3x − 3.0x = 0) still marks the result inexact
            left = sp.Float(left) if left.is_Number else sp.Float(1.0) * left
        assert parse_expression(text) == left
    exact = [t for t in terms if not t.has(sp.Float)]
    exact = exact * (260 // max(len(exact), 1) + 1)
    if exact:
        left = exact[0]
        for t in exact[1:]:
            left = left + t
        assert parse_expression(" + ".join(f"({t})".replace("**", "^") for t in exact)) == left
