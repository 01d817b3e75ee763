"""Expressions of the `.tp` language: a precedence-climbing parser to a small AST, and the
lowering of that AST to sympy through a whitelist (never sympify/eval on user text).

Precedence, loosest first::

    + -            binary, left-associative
    * / @          binary, left-associative (@ only as a whole right-hand side: W @ x)
    - +            unary
    ^ **           binary, right-associative; the exponent may start with a unary minus
    .T             postfix transpose (only as W.T @ x)

so ``-x^2`` is ``-(x^2)``, ``2^-1`` is ``1/2`` and ``a/b*c`` is ``(a/b)*c``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import gmpy2
import sympy as sp

from ..errors import ParseError, TensorProgError
from ..functions import FUNCTIONS
from .lexer import EOF, NAME, NEWLINE, NUMBER, OP, Source, Token

# ---------------------------------------------------------------------------- limits
# Guards against inputs that would make sympy compute for a very long time (2^10^10) or
# Python recurse too deep (((((...))))). Generous for any real program.
MAX_DEPTH = 60  # nesting of parentheses / unary operators / exponents
MAX_DIGITS = 100_000  # digits of an integer literal
MAX_BITS = 400_000  # size of any exact number an operator may produce
MAX_ROOT = 1_000  # denominator q of a rational exponent p/q applied to a number
# sympy's evaluation of functions and roots of exact numbers (perfect-power tests, sign
# decisions) slows down sharply with their size: sqrt(10^100000 + 1) does not finish.
MAX_FUNC_BITS = 4_000  # ~1200 digits
MAX_FUNC_ARG = 1e300  # magnitude of a symbol-free, non-literal function argument
DOUBLE_MAX = 1.7976931348623157e308


# ---------------------------------------------------------------------------- AST
@dataclass(frozen=True)
class Num:
    value: sp.Expr
    tok: Token


@dataclass(frozen=True)
class Name:
    name: str
    tok: Token


@dataclass(frozen=True)
class Call:
    func: str
    arg: Node
    tok: Token  # the function name


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node
    tok: Token


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node
    tok: Token  # the operator


@dataclass(frozen=True)
class Transpose:
    operand: Node
    tok: Token  # the '.'


@dataclass(frozen=True)
class MatrixLit:
    rows: tuple[tuple[Node, ...], ...]
    row_toks: tuple[Token, ...]
    tok: Token  # the outer '['


Node = Num | Name | Call | Unary | Binary | Transpose | MatrixLit

# operator -> (precedence, right-associative)
BINARY = {
    "+": (10, False),
    "-": (10, False),
    "*": (20, False),
    "/": (20, False),
    "@": (20, False),
    "^": (40, True),
    "**": (40, True),
}
UNARY_PREC = 30


def first_token(node: Node) -> Token:
    """The leftmost token of ``node`` (where a caret for the whole node should point)."""
    while isinstance(node, (Binary, Transpose)):
        node = node.left if isinstance(node, Binary) else node.operand
    return node.tok


# ---------------------------------------------------------------------------- token stream
class Stream:
    """Tokens with one-token lookahead and error helpers."""

    def __init__(self, src: Source, toks: list[Token]) -> None:
        self.src = src
        self.toks = toks
        self.pos = 0

    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.pos + k, len(self.toks) - 1)]

    def next(self) -> Token:
        tok = self.peek()
        if tok.kind != EOF:
            self.pos += 1
        return tok

    def at_op(self, *texts: str) -> bool:
        tok = self.peek()
        return tok.kind == OP and tok.text in texts

    def at_name(self, text: str | None = None) -> bool:
        tok = self.peek()
        return tok.kind == NAME and (text is None or tok.text == text)

    def error(self, message: str, tok: Token, hint: str | None = None) -> ParseError:
        return ParseError(message, loc=self.src.at(tok), hint=hint)

    def expect_op(self, text: str, context: str, hint: str | None = None) -> Token:
        tok = self.peek()
        if tok.kind == OP and tok.text == text:
            return self.next()
        raise self.error(
            f"expected '{text}' {context}, found {tok}", tok, hint or f"insert '{text}' here"
        )

    def expect_name(self, context: str, hint: str | None = None) -> Token:
        tok = self.peek()
        if tok.kind == NAME:
            return self.next()
        raise self.error(
            f"expected a name {context}, found {tok}",
            tok,
            hint or "names use ASCII letters, digits and _ and do not start with a digit",
        )

    # ------------------------------------------------------------------ expressions
    def expression(self, min_prec: int = 0, depth: int = 0) -> Node:
        """Precedence climbing over BINARY; operands via ``unary``."""
        if depth > MAX_DEPTH:
            raise self.error(
                "expression is nested too deeply",
                self.peek(),
                hint=f"split it into several assignments (at most {MAX_DEPTH} levels)",
            )
        left = self.unary(depth)
        while True:
            tok = self.peek()
            if tok.kind != OP or tok.text not in BINARY:
                return left
            prec, right_assoc = BINARY[tok.text]
            if prec < min_prec:
                return left
            self.next()
            right = self.expression(prec if right_assoc else prec + 1, depth + 1)
            left = Binary("^" if tok.text == "**" else tok.text, left, right, tok)

    def unary(self, depth: int) -> Node:
        tok = self.peek()
        if tok.kind == OP and tok.text in ("-", "+"):
            self.next()
            operand = self.expression(UNARY_PREC, depth + 1)
            return operand if tok.text == "+" else Unary("-", operand, tok)
        return self.postfix(depth)

    def postfix(self, depth: int) -> Node:
        node = self.primary(depth)
        if self.at_op("."):
            dot = self.next()
            t = self.peek()
            if not (t.kind == NAME and t.text == "T"):
                raise self.error(
                    f"expected 'T' after '.', found {t}",
                    t,
                    hint="the only attribute is the transpose of a matrix: W.T @ x",
                )
            self.next()
            node = Transpose(node, dot)
        return node

    def primary(self, depth: int) -> Node:
        tok = self.peek()
        if tok.kind == NUMBER:
            self.next()
            return Num(number(tok, self.src), tok)
        if tok.kind == NAME:
            self.next()
            if self.at_op("("):
                self.next()
                if self.at_op(")"):
                    raise self.error(
                        f"{tok.text}() needs an argument", self.peek(), hint=f"{tok.text}(x)"
                    )
                arg = self.expression(0, depth + 1)
                if self.at_op(","):
                    raise self.error(
                        f"{tok.text}(...) takes one argument",
                        self.peek(),
                        hint="all functions are coordinatewise functions of one argument",
                    )
                self.expect_op(")", f"to close {tok.text}(")
                return Call(tok.text, arg, tok)
            return Name(tok.text, tok)
        if tok.kind == OP and tok.text == "(":
            self.next()
            if self.at_op(")"):
                raise self.error("empty parentheses", self.peek(), hint="put an expression inside")
            inner = self.expression(0, depth + 1)
            self.expect_op(")", "to close '('")
            return inner
        if tok.kind == OP and tok.text == "[":
            return self.matrix_literal(depth)
        if tok.kind in (NEWLINE, EOF):
            raise self.error(
                "the expression is incomplete", tok, hint="add an operand after the operator"
            )
        raise self.error(
            f"expected a number, a name or '(', found {tok}",
            tok,
            hint="check for a missing operand or a stray symbol",
        )

    def matrix_literal(self, depth: int) -> MatrixLit:
        """``[[a, b], [c, d]]`` (only meaningful as a covariance matrix)."""
        outer = self.expect_op("[", "to start a matrix")
        rows: list[tuple[Node, ...]] = []
        row_toks: list[Token] = []
        while True:
            row_tok = self.expect_op(
                "[", "to start a matrix row", hint="write a matrix as [[1, 1/2], [1/2, 1]]"
            )
            row = [self.expression(0, depth + 1)]
            while self.at_op(","):
                self.next()
                row.append(self.expression(0, depth + 1))
            self.expect_op("]", "to end the matrix row")
            rows.append(tuple(row))
            row_toks.append(row_tok)
            if self.at_op("]"):
                self.next()
                return MatrixLit(tuple(rows), tuple(row_toks), outer)
            self.expect_op(",", "between matrix rows")


def number(tok: Token, src: Source) -> sp.Expr:
    """A literal: integers stay exact (sympy Integer); a literal with '.' or an exponent is an
    IEEE double (sympy Float), which makes every result computed from it inexact."""
    text = tok.text
    if any(c in text for c in ".eE"):
        value = float(text)
        if not math.isfinite(value):
            raise ParseError(
                f"{text} is out of the range of double-precision numbers",
                loc=src.at(tok),
                hint="decimal literals are doubles; write large exact numbers as integers",
            )
        return sp.Float(value)
    if len(text) > MAX_DIGITS:
        raise ParseError(
            f"integer literal with {len(text)} digits is too long",
            loc=src.at(tok),
            hint=f"at most {MAX_DIGITS} digits",
        )
    return sp.Integer(int(gmpy2.mpz(text)))  # gmpy2: no CPython 4300-digit str->int limit


# ---------------------------------------------------------------------------- lowering
Resolver = Callable[[Name], sp.Expr]


class Lowering:
    """Turns an expression AST into sympy. ``resolve`` maps a Name to its symbol (or raises);
    every operator is applied through guards that name the operator's position on failure."""

    def __init__(self, src: Source, resolve: Resolver) -> None:
        self.src = src
        self.resolve = resolve

    def error(self, message: str, tok: Token, hint: str | None = None) -> ParseError:
        return ParseError(message, loc=self.src.at(tok), hint=hint)

    def __call__(self, node: Node) -> sp.Expr:
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Name):
            return self.resolve(node)
        if isinstance(node, Unary):
            return self._guard(lambda a: -a, node.tok, self(node.operand))
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, Binary):
            if node.op == "@":
                raise self.error(
                    "a matrix product must be a whole right-hand side",
                    node.tok,
                    hint="write it on its own line, e.g. 'h = W @ x', then use h",
                )
            return self._binary(node)
        if isinstance(node, Transpose):
            raise self.error(
                "'.T' is only allowed in a matrix product",
                node.tok,
                hint="write 'h = W.T @ x'",
            )
        if isinstance(node, MatrixLit):
            raise self.error(
                "a matrix literal is only allowed as the covariance of vectors",
                node.tok,
                hint="vector a, b ~ N(0, [[1, 1/2], [1/2, 1]])",
            )
        raise AssertionError(node)  # pragma: no cover

    def _call(self, node: Call) -> sp.Expr:
        if node.func == "mean":
            raise self.error(
                "mean(...) must be the whole right-hand side",
                node.tok,
                hint="define the scalar on its own line, e.g. 'm = mean(x^2)', then use m",
            )
        spec = FUNCTIONS.get(node.func)
        if spec is None:
            raise self.error(
                f"unknown function '{node.func}'",
                node.tok,
                hint="the functions are " + ", ".join(sorted(FUNCTIONS)) + " and mean",
            )
        arg = self(node.arg)
        self._check_size(arg, node.tok, f"{node.func}(...)")
        self._check_magnitude(arg, node.tok, f"{node.func}(...)")
        return self._guard(spec.sympy, node.tok, arg)

    def _check_magnitude(self, arg: sp.Expr, tok: Token, what: str) -> None:
        """A symbol-free argument such as exp(exp(20)) must be of sane size: sympy would need
        ~10^8 digits of precision to decide e.g. the sign of sin(exp(exp(exp(3))))."""
        if arg.free_symbols or isinstance(arg, (sp.Rational, sp.Float)):
            return
        try:
            value = arg.evalf(15)
            sane = bool(value.is_Number and abs(value) <= MAX_FUNC_ARG)
        except Exception:  # sympy/mpmath failing to evaluate counts as not sane
            sane = False
        if not sane:
            raise self.error(
                f"{what} of an astronomically large number",
                tok,
                hint=f"arguments of functions must be at most {MAX_FUNC_ARG:g} in size",
            )

    def _check_size(self, arg: sp.Expr, tok: Token, what: str) -> None:
        bits = max((_bits(r) for r in arg.atoms(sp.Rational)), default=0)
        if bits > MAX_FUNC_BITS:
            raise self.error(
                f"{what} of a number with {bits} bits is too expensive to evaluate exactly",
                tok,
                hint=f"functions and roots take exact numbers of at most {MAX_FUNC_BITS} bits",
            )

    def _binary(self, node: Binary) -> sp.Expr:
        a, b = self(node.left), self(node.right)
        op = node.op
        if op == "+":
            return self._guard(lambda x, y: x + y, node.tok, a, b)
        if op == "-":
            return self._guard(lambda x, y: x - y, node.tok, a, b)
        if op == "*":
            return self._guard(lambda x, y: x * y, node.tok, a, b)
        if op == "/":
            if b.is_zero:
                raise self.error("division by zero", node.tok, hint="the divisor evaluates to 0")
            return self._guard(lambda x, y: x / y, node.tok, a, b)
        if op == "^":
            self._check_power(a, b, node.tok)
            return self._guard(lambda x, y: x**y, node.tok, a, b)
        raise AssertionError(op)  # pragma: no cover

    def _check_power(self, base: sp.Expr, exp: sp.Expr, tok: Token) -> None:
        if not isinstance(exp, sp.Rational):
            return
        if base.is_zero and exp.is_negative:
            raise self.error(
                "division by zero (0 to a negative power)",
                tok,
                hint="a negative power divides by its base, which is 0 here",
            )
        bits = max((_bits(r) for r in base.atoms(sp.Rational)), default=0)
        if bits > 1 and bits * abs(exp.p) > MAX_BITS:
            raise self.error(
                "the power is too large to compute exactly",
                tok,
                hint=f"exact numbers are limited to about {MAX_BITS} bits",
            )
        if exp.q != 1:
            self._check_size(base, tok, "a fractional power")
        if exp.q > MAX_ROOT and base.atoms(sp.Rational) - {sp.S.One, sp.S.NegativeOne}:
            raise self.error(f"root of order {exp.q} is too large", tok, hint=f"at most {MAX_ROOT}")

    def _guard(self, fn, tok: Token, *args: sp.Expr) -> sp.Expr:
        try:
            result = fn(*args)
        except TensorProgError:
            raise
        except RecursionError:
            raise self.error(
                "expression too large to evaluate", tok, hint="split it into several lines"
            ) from None
        except Exception as e:  # sympy's own failures become a located user error
            raise self.error(
                f"cannot evaluate this: {type(e).__name__}: {e}",
                tok,
                hint="simplify the expression or split it into several lines",
            ) from None
        check_value(result, self.src, tok)
        return result


def _bits(r: sp.Rational) -> int:
    return max(abs(int(r.p)).bit_length(), int(r.q).bit_length())


_BAD = (sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I)


def check_value(expr: sp.Expr, src: Source, tok: Token) -> None:
    """Refuse results that are not finite real numbers of reasonable size."""
    if not isinstance(expr, sp.Expr):
        raise ParseError("not a number or expression", loc=src.at(tok), hint="check this operand")
    if expr.has(*_BAD):
        what = "a complex number" if expr.has(sp.I) else "infinite or undefined"
        raise ParseError(
            f"this evaluates to something {what}",
            loc=src.at(tok),
            hint="check for division by zero, log of 0 or of a negative number, or a "
            "negative number to a fractional power",
        )
    for p in expr.atoms(sp.Pow):
        if p.base.is_number and p.base.is_negative and p.exp.is_integer is False:
            raise ParseError(
                "a negative number to a fractional power is not a real number",
                loc=src.at(tok),
                hint="use a positive base",
            )
    for f in expr.atoms(sp.Float):
        if not abs(f) <= DOUBLE_MAX:
            raise ParseError(
                "this overflows double-precision numbers",
                loc=src.at(tok),
                hint="decimal literals make the computation floating point; use exact numbers",
            )
    for r in expr.atoms(sp.Rational):
        if _bits(r) > MAX_BITS:
            raise ParseError(
                "this exact number is too large",
                loc=src.at(tok),
                hint=f"exact numbers are limited to about {MAX_BITS} bits",
            )
