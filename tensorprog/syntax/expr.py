"""Expressions of the `.tp` language: an operator-precedence parser to a small AST, and the
lowering of that AST to sympy through a whitelist (never sympify/eval on user text).

Precedence, loosest first (Python's)::

    + -            binary, left-associative
    * / @          binary, left-associative (W @ x: an initial matrix times a vector)
    - +            unary
    ^ **           binary, right-associative; the exponent may start with a unary minus
    .T             postfix transpose (only as W.T @ x)

so ``-x^2`` is ``-(x^2)``, ``2^-1`` is ``1/2``, ``a/b*c`` is ``(a/b)*c`` and ``2 * W @ x`` is
``(2*W) @ x`` (an error: write ``2 * (W @ x)``).

Both the parser and the lowering use explicit stacks, never Python recursion, so a sum of
100 000 terms or thousands of redundant parentheses are fine. A chain of ``+``/``-`` (or of
``*``/``/``) at one level becomes one n-ary node, folded by one sympy ``Add`` (``Mul``) call.
What is limited is the depth of the *resulting* expression tree (``MAX_DEPTH``), because sympy
itself walks trees recursively.
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
# recurse too deep (sympy walks expression trees recursively). Generous for any real program.
MAX_DEPTH = 100  # depth of an expression tree after simplification (sympy's own walkers
#                  fail near 150 levels; redundant parentheses and flat sums do not count)
MAX_DIGITS = 100_000  # digits of a number literal
MAX_BITS = 400_000  # size of any exact number an operator may produce
MAX_ROOT = 1_000  # denominator q of a rational exponent p/q applied to a number
# sympy's evaluation of functions and roots of exact numbers (perfect-power tests, sign
# decisions) slows down sharply with their size: sqrt(10^100000 + 1) does not finish.
MAX_FUNC_BITS = 4_000  # ~1200 digits
MAX_FUNC_ARG = 1e300  # magnitude of a symbol-free, non-literal function argument
DOUBLE_MAX = 1.7976931348623157e308
FOLD_LIMIT = 256  # longer chains of + - (* /) are folded by one sympy call
DOUBLE_MIN = 2.2250738585072014e-308  # smallest normal double


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
    """``^`` (right-associative) and ``@`` (matrix product)."""

    op: str
    left: Node
    right: Node
    tok: Token  # the operator


@dataclass(eq=False)
class Chain:
    """``first op1 x1 op2 x2 ...`` with all ops of one level: kind "add" (+ -) or "mul" (* /).
    ``sealed``: the chain is a parenthesized group (later operators do not extend it)."""

    kind: str
    first: Node
    rest: list[tuple[Token, Node]]
    sealed: bool = False


@dataclass(frozen=True)
class Transpose:
    operand: Node
    tok: Token  # the '.'


@dataclass(frozen=True)
class MatrixLit:
    rows: tuple[tuple[Node, ...], ...]
    row_toks: tuple[Token, ...]
    tok: Token  # the outer '['


Node = Num | Name | Call | Unary | Binary | Chain | Transpose | MatrixLit

# operator -> precedence
BINARY = {"+": 10, "-": 10, "*": 20, "/": 20, "@": 20, "^": 40, "**": 40}
RIGHT_ASSOC = ("^", "**")
UNARY_PREC = 30
_CHAIN_KIND = {"+": "add", "-": "add", "*": "mul", "/": "mul"}


def first_token(node: Node) -> Token:
    """The leftmost token of ``node`` (where a caret for the whole node should point)."""
    while isinstance(node, (Binary, Transpose, Chain)):
        if isinstance(node, Binary):
            node = node.left
        elif isinstance(node, Chain):
            node = node.first
        else:
            node = node.operand
    return node.tok


def children(node: Node) -> list[Node]:
    """Sub-expressions of ``node``, left to right."""
    if isinstance(node, Chain):
        return [node.first] + [n for _, n in node.rest]
    if isinstance(node, Binary):
        return [node.left, node.right]
    if isinstance(node, (Unary, Transpose)):
        return [node.operand]
    if isinstance(node, Call):
        return [node.arg]
    if isinstance(node, MatrixLit):
        return [e for row in node.rows for e in row]
    return []


class _Group:
    """An open parenthesis or function call while parsing: its operand and operator stacks."""

    __slots__ = ("open", "func", "out", "ops")

    def __init__(self, open_tok: Token | None, func: Token | None) -> None:
        self.open = open_tok
        self.func = func
        self.out: list[Node] = []
        self.ops: list[tuple[str, Token]] = []  # ("u", tok) unary prefix or (op, tok) binary

    def apply(self, op: str, tok: Token) -> None:
        if op == "u":
            operand = self.out.pop()
            self.out.append(operand if tok.text == "+" else Unary("-", operand, tok))
            return
        right = self.out.pop()
        left = self.out.pop()
        kind = _CHAIN_KIND.get(op)
        if kind is None:
            self.out.append(Binary("^" if op == "**" else op, left, right, tok))
        elif isinstance(left, Chain) and left.kind == kind and not left.sealed:
            left.rest.append((tok, right))  # left-associative: (a + b) + c = a + b + c
            self.out.append(left)
        else:
            self.out.append(Chain(kind, left, [(tok, right)]))

    def push_binary(self, tok: Token) -> None:
        prec = BINARY[tok.text]
        right = tok.text in RIGHT_ASSOC
        while self.ops:
            op, otok = self.ops[-1]
            oprec = UNARY_PREC if op == "u" else BINARY[op]
            if oprec > prec or (oprec == prec and not right):
                self.ops.pop()
                self.apply(op, otok)
            else:
                break
        self.ops.append((tok.text, tok))

    def finish(self) -> Node:
        while self.ops:
            op, tok = self.ops.pop()
            self.apply(op, tok)
        (node,) = self.out
        return node


# ---------------------------------------------------------------------------- token stream
class Stream:
    """Tokens with lookahead and error helpers."""

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
    def expression(self, allow_matrix: bool = True) -> Node:
        """One expression, by operator precedence over explicit stacks (one per open
        parenthesis): nesting costs heap, not Python stack."""
        groups = [_Group(None, None)]
        while True:
            g = groups[-1]
            # ---- an operand: unary prefixes, then a primary
            tok = self.peek()
            if tok.kind == OP and tok.text in ("-", "+"):
                self.next()
                g.ops.append(("u", tok))
                continue
            if tok.kind == NUMBER:
                self.next()
                node: Node = Num(number(tok, self.src), tok)
            elif tok.kind == NAME:
                self.next()
                if self.at_op("("):
                    opener = self.next()
                    if self.at_op(")"):
                        raise self.error(
                            f"{tok.text}() needs an argument", self.peek(), hint=f"{tok.text}(x)"
                        )
                    groups.append(_Group(opener, tok))
                    continue
                node = Name(tok.text, tok)
            elif tok.kind == OP and tok.text == "(":
                opener = self.next()
                if self.at_op(")"):
                    raise self.error(
                        "empty parentheses", self.peek(), hint="put an expression inside"
                    )
                groups.append(_Group(opener, None))
                continue
            elif tok.kind == OP and tok.text == "[":
                if not allow_matrix:
                    raise self.error(
                        "a matrix literal cannot appear inside a matrix literal",
                        tok,
                        hint="write a covariance matrix as [[1, 1/2], [1/2, 1]]",
                    )
                node = self.matrix_literal()
            elif tok.kind in (NEWLINE, EOF):
                raise self.error(
                    "the expression is incomplete", tok, hint="add an operand after the operator"
                )
            else:
                raise self.error(
                    f"expected a number, a name or '(', found {tok}",
                    tok,
                    hint="check for a missing operand or a stray symbol",
                )
            # ---- after an operand: postfix .T, closing parentheses, a binary operator or the end
            while True:
                node = self.postfix(node)
                groups[-1].out.append(node)
                tok = self.peek()
                if tok.kind == OP and tok.text in BINARY:
                    self.next()
                    groups[-1].push_binary(tok)
                    break
                if len(groups) == 1:
                    return groups[0].finish()
                g = groups.pop()
                if g.func is not None and tok.kind == OP and tok.text == ",":
                    raise self.error(
                        f"{g.func.text}(...) takes one argument",
                        tok,
                        hint="all functions are coordinatewise functions of one argument",
                    )
                if g.func is not None:
                    self.expect_op(")", f"to close {g.func.text}(")
                else:
                    self.expect_op(")", "to close '('")
                node = g.finish()
                if g.func is not None:
                    node = Call(g.func.text, node, g.func)
                elif isinstance(node, Chain):
                    node.sealed = True

    def postfix(self, node: Node) -> Node:
        while self.at_op("."):
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

    def matrix_literal(self) -> MatrixLit:
        """``[[a, b], [c, d]]`` (only meaningful as a covariance matrix)."""
        outer = self.expect_op("[", "to start a matrix")
        rows: list[tuple[Node, ...]] = []
        row_toks: list[Token] = []
        while True:
            row_tok = self.expect_op(
                "[", "to start a matrix row", hint="write a matrix as [[1, 1/2], [1/2, 1]]"
            )
            row = [self.expression(allow_matrix=False)]
            while self.at_op(","):
                self.next()
                row.append(self.expression(allow_matrix=False))
            self.expect_op("]", "to end the matrix row")
            rows.append(tuple(row))
            row_toks.append(row_tok)
            if self.at_op("]"):
                self.next()
                return MatrixLit(tuple(rows), tuple(row_toks), outer)
            self.expect_op(",", "between matrix rows")


def number(tok: Token, src: Source) -> sp.Expr:
    """A literal: integers stay exact (sympy Integer); a literal with '.' or an exponent is an
    IEEE double (sympy Float), which makes every result computed from it inexact. A decimal
    literal must be 0 or a normal double: 1e999 overflows and 1e-999 would silently become 0,
    so both are refused (write 10^-999 for the exact number)."""
    text = tok.text
    if len(text) > MAX_DIGITS:
        raise ParseError(
            f"number literal with {len(text)} characters is too long",
            loc=src.at(tok),
            hint=f"at most {MAX_DIGITS} digits",
        )
    if any(c in text for c in ".eE"):
        value = float(text)
        if not math.isfinite(value) or abs(value) > DOUBLE_MAX:
            raise ParseError(
                f"{_clip(text)} is out of the range of double-precision numbers",
                loc=src.at(tok),
                hint="decimal literals are doubles; write large exact numbers as integers "
                "or powers, e.g. 10^999",
            )
        mantissa = text.split("e")[0].split("E")[0]
        if abs(value) < DOUBLE_MIN and any(c in "123456789" for c in mantissa):
            raise ParseError(
                f"{_clip(text)} is below the range of double-precision numbers (it would "
                "become 0 or lose its precision)",
                loc=src.at(tok),
                hint="decimal literals are doubles; write tiny exact numbers as powers, "
                "e.g. 10^-999",
            )
        return sp.Float(value)
    return sp.Integer(int(gmpy2.mpz(text)))  # gmpy2: no CPython 4300-digit str->int limit


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------- lowering
Resolver = Callable[[Name], sp.Expr]


class Lowering:
    """Turns an expression AST into sympy. ``resolve`` maps a Name to its symbol (or raises);
    every operator is applied through guards that name the operator's position on failure.

    ``matmul(node, right)`` and ``moment(node, arg)`` (optional hooks) turn an inline ``W @ v``
    and ``mean(e)`` into a symbol (the statement parser adds program nodes for them); without
    them these forms are refused. ``check_matmul(node)`` runs before the operand of ``@`` is
    lowered. The walk is a post-order over an explicit stack (no recursion on depth), and the
    depth of every intermediate sympy result is bounded by MAX_DEPTH.
    """

    def __init__(
        self,
        src: Source,
        resolve: Resolver,
        *,
        matmul: Callable[[Binary, sp.Expr], sp.Expr] | None = None,
        moment: Callable[[Call, sp.Expr], sp.Expr] | None = None,
        check_matmul: Callable[[Binary], None] | None = None,
    ) -> None:
        self.src = src
        self.resolve = resolve
        self.matmul = matmul
        self.moment = moment
        self.check_matmul = check_matmul
        self._depth: dict[int, tuple[sp.Expr, int]] = {}

    def error(self, message: str, tok: Token, hint: str | None = None) -> ParseError:
        return ParseError(message, loc=self.src.at(tok), hint=hint)

    def __call__(self, root: Node) -> sp.Expr:
        done: dict[int, tuple[sp.Expr, bool]] = {}  # id(node) -> (value, inexact)
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, ready = stack.pop()
            if not ready:
                kids = self._operands(node)
                if kids:
                    stack.append((node, True))
                    stack.extend((k, False) for k in reversed(kids))
                    continue
            vals = [done.pop(id(k)) for k in _lowered_first(node)]
            value = self._apply(node, [v for v, _ in vals])
            inexact = any(f for _, f in vals) or (
                isinstance(node, Num) and isinstance(node.value, sp.Float)
            )
            if _makes_node(node):  # the new node's own expression carries the float
                inexact = False
            if inexact and not value.has(sp.Float):
                # 0.0*1 = 0 in sympy: keep the mark that a float entered the computation
                value = sp.Float(value) if value.is_Number else sp.Float(1.0) * value
            self._check_depth(value, node)
            done[id(node)] = (value, inexact)
        return done[id(root)][0]

    # ------------------------------------------------------------------ structure
    def _operands(self, node: Node) -> list[Node]:
        """The sub-expressions lowered before ``node`` (validating what must come first)."""
        if isinstance(node, Binary) and node.op == "@":
            if self.matmul is None:
                raise self.error(
                    "a matrix product is not allowed here",
                    node.tok,
                    hint="matrix products belong to program statements, e.g. 'h = W @ x'",
                )
            if self.check_matmul is not None:
                self.check_matmul(node)
            return [node.right]
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
        if isinstance(node, Call):
            self._check_function(node)
        return children(node)

    def _check_depth(self, value: sp.Expr, node: Node) -> None:
        d = _tree_depth(value, self._depth)
        if d > MAX_DEPTH:
            tok = node.tok if not isinstance(node, Chain) else node.rest[0][0]
            raise self.error(
                f"expression is nested too deeply (more than {MAX_DEPTH} levels)",
                tok,
                hint="split it into several assignments; flat sums, products and redundant "
                "parentheses do not count",
            )

    def _apply(self, node: Node, args: list[sp.Expr]) -> sp.Expr:
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Name):
            return self.resolve(node)
        if isinstance(node, Unary):
            return self._guard(lambda a: -a, node.tok, args[0])
        if isinstance(node, Call):
            return self._call(node, args[0])
        if isinstance(node, Chain):
            return self._chain(node, args)
        if isinstance(node, Binary):
            if node.op == "@":
                return self.matmul(node, args[0])
            return self._power(node, args[0], args[1])
        raise AssertionError(node)  # pragma: no cover

    # ------------------------------------------------------------------ operators
    def _check_function(self, node: Call) -> None:
        if node.func == "mean":
            if self.moment is None:
                raise self.error(
                    "mean(...) is not allowed here",
                    node.tok,
                    hint="mean(...) belongs to program statements, e.g. 'm = mean(x^2)'",
                )
            return
        if node.func not in FUNCTIONS:
            raise self.error(
                f"unknown function '{node.func}'",
                node.tok,
                hint="the functions are " + ", ".join(sorted(FUNCTIONS)) + " and mean",
            )

    def _call(self, node: Call, arg: sp.Expr) -> sp.Expr:
        if node.func == "mean":
            return self.moment(node, arg)
        spec = FUNCTIONS[node.func]
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

    def _chain(self, node: Chain, args: list[sp.Expr]) -> sp.Expr:
        """``a + b - c`` and ``a * b / c``: Python's left-to-right fold, one operation at a
        time, for chains of up to FOLD_LIMIT operands (so text and the Python API build the
        same expression). Longer chains are one sympy Add (Mul) call: pairwise folding costs
        quadratic time. For sums without floats that is the same expression (Add flattens
        nested Adds and collects like terms); otherwise the same value, with floats possibly
        summed in another order and a number times a sum not distributed."""
        ops = [tok for tok, _ in node.rest]
        if node.kind == "add":
            terms = [args[0]]
            for tok, a in zip(ops, args[1:]):
                terms.append(self._guard(lambda x: -x, tok, a) if tok.text == "-" else a)
            if len(terms) <= FOLD_LIMIT and any(t.has(sp.Float) for t in terms):
                out = terms[0]
                for tok, t in zip(ops, terms[1:]):
                    out = self._guard(lambda x, y: x + y, tok, out, t)
                return out
            return self._guard(lambda *t: sp.Add(*t), ops[0], *terms)
        factors = [args[0]]
        for tok, a in zip(ops, args[1:]):
            if tok.text == "/":
                if a.is_zero:
                    raise self.error("division by zero", tok, hint="the divisor evaluates to 0")
                a = self._guard(lambda x: sp.Pow(x, -1), tok, a)
            factors.append(a)
        bits = sum(max((_bits(r) for r in f.atoms(sp.Rational)), default=0) for f in factors)
        if bits <= MAX_BITS and len(factors) > FOLD_LIMIT:
            return self._guard(lambda *f: sp.Mul(*f), ops[0], *factors)
        out = factors[0]  # one product at a time (each checked for size)
        for tok, f in zip(ops, factors[1:]):
            out = self._guard(lambda x, y: x * y, tok, out, f)
        return out

    def _power(self, node: Binary, a: sp.Expr, b: sp.Expr) -> sp.Expr:
        self._check_power(a, b, node.tok)
        return self._guard(lambda x, y: x**y, node.tok, a, b)

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


def _lowered_first(node: Node) -> list[Node]:
    return [node.right] if isinstance(node, Binary) and node.op == "@" else children(node)


def _makes_node(node: Node) -> bool:
    return (isinstance(node, Binary) and node.op == "@") or (
        isinstance(node, Call) and node.func == "mean"
    )


def _tree_depth(e: sp.Expr, memo: dict[int, tuple[sp.Expr, int]]) -> int:
    """Depth of a sympy tree (a leaf has depth 0), iteratively; ``memo`` maps id -> (expr,
    depth) and keeps the expressions alive so that ids stay valid."""
    hit = memo.get(id(e))
    if hit is not None:
        return hit[1]
    stack = [(e, False)]
    while stack:
        x, ready = stack.pop()
        if id(x) in memo:
            continue
        if not x.args:
            memo[id(x)] = (x, 0)
        elif ready:
            memo[id(x)] = (x, 1 + max(memo[id(a)][1] for a in x.args))
        else:
            stack.append((x, True))
            stack.extend((a, False) for a in x.args if id(a) not in memo)
    return memo[id(e)][1]


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
