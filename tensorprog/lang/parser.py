"""Statements of the `.tp` language -> ``tensorprog.ir.Program`` (grammar: docs/language.md).

Each statement becomes one ``Program`` call with ``loc=`` pointing at the defined name, so
errors the IR detects also show file:line:col. Names must be defined above their first use;
this makes cycles impossible, and a forward reference is reported with the line that
defines the name.

A matrix product ``W @ v`` or a ``mean(e)`` inside a larger expression becomes an intermediate
MatMul (Moment) node, and a non-name operand of ``@`` an intermediate Nonlin, named
``_<target>_<k>`` (k = 1, 2, ... in evaluation order, skipping every name the file mentions),
with the location of the sub-expression. A whole right-hand side ``h = W @ x`` or
``m = mean(e)`` is one node named by the target, as always.
"""

from __future__ import annotations

import difflib
from pathlib import PurePath

import sympy as sp

from ..errors import ProgramError, TensorProgError
from ..functions import FUNCTIONS
from ..ir import (
    PARAM_ROLES,
    RESERVED,
    InitVector,
    Program,
    fresh_name,
    init_covariance,
    sym,
)
from ..syntax.expr import (
    Binary,
    Call,
    Chain,
    Lowering,
    MatrixLit,
    Name,
    Node,
    Stream,
    Transpose,
    first_token,
)
from ..syntax.lexer import EOF, NAME, NEWLINE, NUMBER, OP, Source, Token, tokenize
from .covariance import psd_violation
from .printer import show

KEYWORDS = ("scalar", "vector", "matrix", "output", "param", "input")
WIDTH = sp.Symbol("n", positive=True)  # the width, only inside matrix variances


def program_name(filename: str) -> str:
    return "program" if filename.startswith("<") else PurePath(filename).stem


class ProgramParser:
    """Parses a whole `.tp` text into a Program, statement by statement."""

    def __init__(self, text: str, filename: str = "<string>") -> None:
        self.src = Source(text, filename)
        self.s = Stream(self.src, tokenize(self.src))
        self.p = Program(program_name(filename))
        self.defined_at = self._prescan()
        self.mentioned = {t.text for t in self.s.toks if t.kind == NAME}
        self.target: str | None = None
        self.target_tok: Token | None = None
        self.root: Node | None = None  # the right-hand side being lowered
        self._fresh = 0

    # ------------------------------------------------------------------ driver
    def parse(self) -> Program:
        s = self.s
        while s.peek().kind != EOF:
            if s.peek().kind == NEWLINE:
                s.next()
                continue
            self.statement()
            self.end_of_statement()
        return self.p

    def _prescan(self) -> dict[str, Token]:
        """Where each name is (first) defined, to explain uses before the definition."""
        toks = self.s.toks
        out: dict[str, Token] = {}
        start = True
        for i, tok in enumerate(toks):
            if start and tok.kind == NAME:
                nxt = toks[i + 1]
                if tok.text == "param" and nxt.kind == NAME and nxt.text in ("vector", "matrix"):
                    continue  # 'vector'/'matrix' follows, at the start of the declaration
                if tok.text in ("scalar", "vector", "matrix", "input") and nxt.kind == NAME:
                    j = i + 1
                    while toks[j].kind == NAME:
                        out.setdefault(toks[j].text, toks[j])
                        if not (toks[j + 1].kind == OP and toks[j + 1].text == ","):
                            break
                        j += 2
                elif nxt.kind == OP and nxt.text == "=":
                    out.setdefault(tok.text, tok)
            start = tok.kind == NEWLINE
        return out

    def statement(self) -> None:
        s = self.s
        tok = s.peek()
        nxt = s.peek(1)
        if tok.kind == NAME and nxt.kind == OP and nxt.text == "=":
            self.assignment()
        elif tok.kind == NAME and tok.text in KEYWORDS:
            getattr(self, f"stmt_{tok.text}")()
        elif tok.kind == NAME:
            close = difflib.get_close_matches(tok.text, KEYWORDS, n=1)
            hint = (
                f"did you mean '{close[0]}'?"
                if close
                else f"a statement is '{tok.text} = expression', or starts with scalar, "
                "vector, matrix, param, input or output"
            )
            raise s.error(f"expected '=' after '{tok.text}', found {nxt}", nxt, hint)
        else:
            raise s.error(
                f"a statement cannot start with {tok}",
                tok,
                hint="statements are 'name = expression' or start with scalar, vector, "
                "matrix, param, input or output",
            )

    def end_of_statement(self) -> None:
        tok = self.s.peek()
        if tok.kind in (NEWLINE, EOF):
            self.s.next()
            return
        if tok.kind in (NAME, NUMBER) or (tok.kind == OP and tok.text in "(["):
            hint = "write '*' between factors (there is no implicit multiplication)"
        elif tok.kind == OP and tok.text == "=":
            hint = "one assignment per line; '=' cannot be chained"
        else:
            hint = "one statement per line"
        raise self.s.error(f"expected end of line, found {tok}", tok, hint)

    # ------------------------------------------------------------------ names
    def at(self, tok: Token):
        return self.src.at(tok)

    def undefined(self, tok: Token) -> TensorProgError:
        """The error for a name that is not (yet) defined, explaining why."""
        name = tok.text
        loc = self.at(tok)
        if name == self.target:
            return ProgramError(
                f"'{name}' is used in its own definition",
                loc=loc,
                hint=f"a program has no loops; give the new value a new name, e.g. "
                f"'{name}1 = ... {name} ...' after defining '{name}'",
            )
        if name == "n":
            return ProgramError(
                "'n' is the width; it only appears in matrix variances such as N(0, 1/n)",
                loc=loc,
                hint="rename your variable",
            )
        if name in FUNCTIONS or name == "mean":
            return ProgramError(f"'{name}' is a function", loc=loc, hint=f"call it: {name}(x)")
        if name in RESERVED:
            return ProgramError(
                f"'{name}' is a keyword and cannot be used as a value",
                loc=loc,
                hint="keywords: scalar, vector, matrix, param, input, output, mean, N, n, T",
            )
        if name in self.defined_at:
            line = self.defined_at[name].line
            return ProgramError(
                f"'{name}' is used before it is defined (defined at line {line})",
                loc=loc,
                hint=f"statements run top to bottom: move the definition of '{name}' above "
                f"line {tok.line}; two definitions that use each other form a cycle, which a "
                "Tensor Program cannot have",
            )
        close = difflib.get_close_matches(name, self.p.names(), n=1, cutoff=0.5)
        return ProgramError(
            f"unknown name '{name}'",
            loc=loc,
            hint=f"did you mean '{close[0]}'?"
            if close
            else f"declare it first, e.g. 'scalar {name} = 1' or 'vector {name} ~ N(0, 1)'",
        )

    def resolve(self, node: Name) -> sp.Expr:
        """Names inside expressions of assignments: scalars and vectors defined above."""
        if node.name in self.p:
            if self.p.kind(node.name) == "matrix":
                raise ProgramError(
                    f"matrix '{node.name}' used inside an expression",
                    loc=self.at(node.tok),
                    hint=f"matrices only appear in matrix products: 'h = {node.name} @ x' "
                    f"or 'h = {node.name}.T @ x'",
                )
            return sym(node.name)
        raise self.undefined(node.tok)

    def constant(self, node: Node, what: str, hint: str) -> sp.Expr:
        """A number: ``node`` may use literals and functions but no names."""

        def resolve(n: Name) -> sp.Expr:
            kind = self.p.kind(n.name) if n.name in self.p else None
            if n.name in FUNCTIONS or n.name == "mean":
                kind = "function"
            desc = f"'{n.name}' is a {kind}" if kind else f"'{n.name}' is a name"
            raise ProgramError(
                f"{what} must be a number, but {desc}", loc=self.at(n.tok), hint=hint
            )

        return Lowering(self.src, resolve)(node)

    def check_new_name(self, tok: Token) -> None:
        """Redefinitions and reserved words, reported before the right-hand side is read."""
        name = tok.text
        if name in RESERVED:
            raise ProgramError(
                f"'{name}' is reserved", loc=self.at(tok), hint=f"rename it, e.g. '{name}_'"
            )
        if name in self.p:
            prev = self.p.node(name).loc
            where = f" (first defined at {prev})" if prev else ""
            raise ProgramError(
                f"'{name}' is already defined{where}",
                loc=self.at(tok),
                hint=f"each name is assigned once; use a new name such as '{name}_1'",
            )

    # ------------------------------------------------------------------ statements
    def stmt_scalar(self) -> None:
        s = self.s
        s.next()
        name = s.expect_name("after 'scalar'", hint="scalar eta = 1/50")
        self.check_new_name(name)
        s.expect_op("=", f"after 'scalar {name.text}'", hint=f"scalar {name.text} = 1/50")
        value = self.constant(
            s.expression(),
            f"the value of scalar '{name.text}'",
            hint=f"a declared scalar is a fixed number; to compute it from other scalars "
            f"write '{name.text} = ...' without 'scalar'",
        )
        self.p.scalar(name.text, value, loc=self.at(name))

    def _names(self, keyword: str, example: str) -> list[Token]:
        s = self.s
        toks = [s.expect_name(f"after '{keyword}'", hint=example)]
        while s.at_op(","):
            s.next()
            toks.append(s.expect_name("after ','", hint=example))
        seen: set[str] = set()
        for t in toks:
            if t.text in seen:
                raise ProgramError(
                    f"'{t.text}' is listed twice", loc=self.at(t), hint="remove the duplicate"
                )
            seen.add(t.text)
            self.check_new_name(t)
        return toks

    def _gaussian(self, kind: str, example: str) -> Token:
        """``~ N(0,`` -- returns the 'N' token; the mean must be 0."""
        s = self.s
        s.expect_op("~", "after the names", hint=example)
        t = s.peek()
        if not (t.kind == NAME and t.text == "N"):
            raise s.error(f"expected N(0, ...) after '~', found {t}", t, hint=example)
        s.next()
        s.expect_op("(", "after N", hint=example)
        mean_node = s.expression()
        s.expect_op(",", "between the mean and the variance", hint=example)
        mean = self.constant(mean_node, "the mean", hint=example)
        if mean != 0:
            raise ProgramError(
                f"{kind} have mean 0 (Setup 7.2), not {show(mean)}",
                loc=self.at(first_token(mean_node)),
                hint="declare it centered and add the mean in a later statement, e.g. 'v = v0 + 1'"
                if kind == "initial vectors"
                else example,
            )
        return t

    def stmt_param(self) -> None:
        """``param vector U ~ N(0, 1) [role=R] [lr=c]`` or ``param matrix W ~ N(0, 1/n) [lr=c]``:
        a trainable initial vector or matrix (see tensorprog.ir.Param)."""
        s = self.s
        s.next()
        t = s.peek()
        if t.kind == NAME and t.text == "vector":
            self.stmt_vector(param=True)
        elif t.kind == NAME and t.text == "matrix":
            self.stmt_matrix(param=True)
        else:
            raise s.error(
                f"expected 'vector' or 'matrix' after 'param', found {t}",
                t,
                hint="param vector U ~ N(0, 1)   or   param matrix W ~ N(0, 1/n)",
            )

    def _param_attrs(self, kind: str) -> tuple[str, sp.Expr]:
        """``role=NAME`` and ``lr=number`` after a param declaration, each at most once, in
        any order. Defaults: role "vector" for vectors ("hidden" for matrices), lr 1."""
        s = self.s
        example = (
            "param vector b ~ N(0, 1) role=bias lr=1/2"
            if kind == "vector"
            else "param matrix W ~ N(0, 1/n) lr=1/2"
        )
        role, lr = ("vector" if kind == "vector" else "hidden"), sp.Integer(1)
        seen: set[str] = set()
        while s.at_name():
            t = s.next()
            if t.text not in ("role", "lr"):
                raise s.error(
                    f"unknown parameter attribute '{t.text}'", t, hint=f"attributes: role=..., "
                    f"lr=...; e.g. {example}"
                )
            if t.text in seen:
                raise s.error(f"'{t.text}' is given twice", t, hint="give each attribute once")
            seen.add(t.text)
            s.expect_op("=", f"after '{t.text}'", hint=example)
            if t.text == "role":
                r = s.expect_name("after 'role='", hint="roles: " + ", ".join(PARAM_ROLES))
                if kind == "matrix" and r.text != "hidden":
                    raise ProgramError(
                        f"a trainable matrix has role 'hidden', not '{r.text}'",
                        loc=self.at(r),
                        hint="drop role=... (matrices are hidden weights)",
                    )
                if r.text not in PARAM_ROLES:
                    close = difflib.get_close_matches(r.text, PARAM_ROLES, n=1)
                    raise ProgramError(
                        f"unknown parameter role '{r.text}'",
                        loc=self.at(r),
                        hint=(f"did you mean '{close[0]}'? " if close else "")
                        + "roles: "
                        + ", ".join(PARAM_ROLES),
                    )
                role = r.text
            else:
                node = s.expression(allow_matrix=False)
                lr = self.constant(
                    node, "a learning-rate multiplier", hint="e.g. lr=1/2 (a number)"
                )
        return role, lr

    def stmt_input(self) -> None:
        """``input xi1, xi2``: per-example input scalars, bound in this order."""
        s = self.s
        s.next()
        for t in self._names("input", "input xi1, xi2"):
            self.p.input(t.text, loc=self.at(t))

    def stmt_vector(self, param: bool = False) -> None:
        s = self.s
        s.next()
        example = "vector x ~ N(0, 1)   or   vector a, b ~ N(0, [[1, 1/2], [1/2, 1]])"
        names = self._names("vector", example)
        self._gaussian("initial vectors", example)
        cov_node = s.expression()
        s.expect_op(")", "to close N(", hint=example)
        clauses = []
        while s.at_op(","):
            s.next()
            clauses.append(self._cov_clause())
        if clauses and len(names) > 1:
            raise ProgramError(
                "cov(...) clauses are for a single vector",
                loc=self.at(clauses[0][0]),
                hint="put all covariances of a group into its covariance matrix",
            )
        attrs = self._param_attrs("vector") if param else None
        k = len(names)
        if isinstance(cov_node, MatrixLit):
            vals = self._cov_matrix(cov_node, names)
        else:
            var = self.constant(
                cov_node,
                "the variance of an initial vector",
                hint="variances are numbers, e.g. N(0, 2)",
            )
            vals = [[var if i == j else None for j in range(k)] for i in range(k)]
        for i in range(k):
            self._decidable_sign(vals[i][i], cov_node, "variance")
        if k == 1:
            cov = self._cov_clauses(names[0], clauses)
            self._declare_vector(names[0], vals[0][0], cov, attrs)
        else:
            for i, t in enumerate(names):
                # a matrix gives every earlier member of the group, zeros included (as
                # Program.vectors does); a scalar variance gives independent vectors
                cov = {names[j].text: vals[i][j] for j in range(i) if vals[i][j] is not None}
                self._declare_vector(t, vals[i][i], cov, attrs)
        if clauses or isinstance(cov_node, MatrixLit):
            self._check_psd(names)

    def _declare_vector(self, t: Token, var, cov, attrs) -> None:
        if attrs is None:
            self.p.vector(t.text, var, cov, loc=self.at(t))
        else:
            role, lr = attrs
            self.p.param_vector(t.text, var, role=role, lr=lr, cov=cov, loc=self.at(t))

    def _decidable_sign(self, value: sp.Expr, node: Node, what: str) -> None:
        """Variances must be provably >= 0 (the IR rejects negative ones); refuse numbers whose
        sign sympy cannot decide, e.g. sin(10^1000), instead of accepting them unchecked."""
        if value.is_negative:
            raise ProgramError(
                f"the {what} {show(value)} is negative",
                loc=self.at(first_token(node)),
                hint="a variance is >= 0",
            )
        if value.is_nonnegative is None and value.is_negative is None:
            raise ProgramError(
                f"cannot decide whether the {what} {show(value)} is >= 0",
                loc=self.at(first_token(node)),
                hint="write it as a rational number",
            )

    def _cov_clause(self) -> tuple[Token, Token, Token, Node]:
        s = self.s
        example = "vector c ~ N(0, 1), cov(c, a) = 1/2"
        t = s.peek()
        if not (t.kind == NAME and t.text == "cov"):
            raise s.error(f"expected 'cov(...) = value' after ',', found {t}", t, hint=example)
        s.next()
        s.expect_op("(", "after cov", hint=example)
        a = s.expect_name("in cov(...)", hint=example)
        s.expect_op(",", "in cov(a, b)", hint=example)
        b = s.expect_name("in cov(...)", hint=example)
        s.expect_op(")", "to close cov(", hint=example)
        s.expect_op("=", "after cov(...)", hint=example)
        return t, a, b, s.expression()

    def _cov_clauses(self, decl: Token, clauses) -> dict[str, sp.Expr]:
        cov: dict[str, sp.Expr] = {}
        for t, a, b, node in clauses:
            if a.text == decl.text:
                other = b
            elif b.text == decl.text:
                other = a
            else:
                raise ProgramError(
                    f"this covariance does not involve '{decl.text}'",
                    loc=self.at(a),
                    hint=f"write cov({decl.text}, {a.text}) = ...",
                )
            if other.text == decl.text:
                raise ProgramError(
                    f"cov({decl.text}, {decl.text}) is the variance",
                    loc=self.at(other),
                    hint="put it into N(0, variance)",
                )
            if other.text not in self.p:
                raise self.undefined(other)
            if not isinstance(self.p.node(other.text), InitVector):
                raise ProgramError(
                    f"'{other.text}' is a {self.p.kind(other.text)} computed by the program, "
                    "not an initial vector; only initial vectors can be correlated",
                    loc=self.at(other),
                    hint="correlate initial vectors with each other when declaring them",
                )
            if other.text in cov:
                raise ProgramError(
                    f"cov({decl.text}, {other.text}) is given twice",
                    loc=self.at(t),
                    hint="give each covariance once",
                )
            cov[other.text] = self.constant(
                node, "a covariance", hint="covariances are numbers, e.g. cov(c, a) = 1/2"
            )
        return cov

    def _cov_matrix(self, m: MatrixLit, names: list[Token]) -> list[list[sp.Expr]]:
        k = len(names)
        shape_hint = f"{k} vectors need a {k}x{k} covariance matrix"
        if len(m.rows) != k:
            raise ProgramError(
                f"the covariance matrix has {len(m.rows)} rows but {k} vectors are declared",
                loc=self.at(m.tok),
                hint=shape_hint,
            )
        for row, tok in zip(m.rows, m.row_toks):
            if len(row) != k:
                raise ProgramError(
                    f"this row of the covariance matrix has {len(row)} entries, not {k}",
                    loc=self.at(tok),
                    hint=shape_hint,
                )
        vals = [
            [self.constant(e, "a covariance", hint="covariance entries are numbers") for e in row]
            for row in m.rows
        ]
        for i in range(k):
            for j in range(i):
                if vals[i][j] != vals[j][i]:
                    raise ProgramError(
                        f"the covariance matrix is not symmetric: entry ({i + 1},{j + 1}) is "
                        f"{show(vals[i][j])} but entry ({j + 1},{i + 1}) is {show(vals[j][i])}",
                        loc=self.at(first_token(m.rows[i][j])),
                        hint="cov(a, b) = cov(b, a): make the matrix symmetric",
                    )
        return vals

    def _check_psd(self, new: list[Token]) -> None:
        """The joint covariance of the initial vectors correlated with the new ones is PSD.
        (Independent blocks are checked when they are declared.)"""
        names, C = init_covariance(self.p)
        idx = {n: i for i, n in enumerate(names)}
        block, todo = set(), [idx[t.text] for t in new]
        while todo:  # the connected component of the correlation graph
            i = todo.pop()
            if i in block:
                continue
            block.add(i)
            todo.extend(j for j in range(len(names)) if j not in block and C[i, j] != 0)
        order = sorted(block)
        why = psd_violation([names[i] for i in order], [[C[i, j] for j in order] for i in order])
        if why:
            raise ProgramError(
                f"the covariance of the initial vectors is not positive semidefinite: {why}",
                loc=self.at(new[0]),
                hint="a covariance matrix needs |cov(a,b)| <= sqrt(var(a) var(b)) and no "
                "negative eigenvalues",
            )

    def stmt_matrix(self, param: bool = False) -> None:
        s = self.s
        s.next()
        example = "matrix W ~ N(0, 1/n)"
        names = self._names("matrix", example)
        self._gaussian("initial matrices", example)
        var_node = s.expression()
        s.expect_op(")", "to close N(", hint=example)
        var = self.matrix_variance(var_node)
        self._decidable_sign(var, var_node, "variance")
        attrs = self._param_attrs("matrix") if param else None
        for t in names:
            if attrs is None:
                self.p.matrix(t.text, var, loc=self.at(t))
            else:
                self.p.param_matrix(t.text, var, lr=attrs[1], loc=self.at(t))

    def matrix_variance(self, node: Node) -> sp.Expr:
        """``sigma2/n`` -> sigma2: entries of an initial matrix are N(0, sigma2/n)."""

        def resolve(n: Name) -> sp.Expr:
            if n.name == "n":
                return WIDTH
            kind = self.p.kind(n.name) if n.name in self.p else None
            raise ProgramError(
                "a matrix variance is a number over n"
                + (f", but '{n.name}' is a {kind}" if kind else f"; '{n.name}' is not n"),
                loc=self.at(n.tok),
                hint="matrix W ~ N(0, 2/n)",
            )

        expr = Lowering(self.src, resolve)(node)
        tok = first_token(node)
        if expr.is_zero:  # 0/n simplifies to 0: a zero matrix
            return expr
        if not expr.has(WIDTH):
            raise ProgramError(
                "matrix entries have variance sigma^2/n: the variance must be divided by n",
                loc=self.at(tok),
                hint=f"write N(0, {show(expr)}/n)" if expr.is_Integer else "e.g. N(0, 1/n)",
            )
        var = expr * WIDTH
        small = all(
            not (q.exp.is_Number and abs(q.exp) > 8) for q in var.atoms(sp.Pow)
        )  # expand only what is cheap to expand: (1/n + 1)^1000000 must not hang
        if var.has(WIDTH) and small:
            var = sp.expand(var)
        if var.has(WIDTH):
            raise ProgramError(
                "a matrix variance must be a number divided by n",
                loc=self.at(tok),
                hint="e.g. N(0, 1/n) or N(0, 2/n)",
            )
        return var

    def stmt_output(self) -> None:
        s = self.s
        s.next()
        toks = [s.expect_name("after 'output'", hint="output f0, f1")]
        while s.at_op(","):
            s.next()
            toks.append(s.expect_name("after ','", hint="output f0, f1"))
        for t in toks:
            if t.text not in self.p:
                raise self.undefined(t)
            if self.p.kind(t.text) == "matrix":
                raise ProgramError(
                    f"'{t.text}' is a matrix; only scalars and vectors can be outputs",
                    loc=self.at(t),
                    hint="output a scalar such as m = mean(x^2), or a vector",
                )
            self.p.output(t.text)

    def assignment(self) -> None:
        s = self.s
        name = s.next()
        s.next()  # '='
        self.check_new_name(name)
        if s.peek().kind in (NEWLINE, EOF):
            raise s.error(
                f"nothing after '{name.text} ='", s.peek(), hint=f"{name.text} = expression"
            )
        self.target, self.target_tok = name.text, name
        rhs = s.expression()
        self.root = rhs
        self._fresh = 0
        expr = self.lower(rhs)
        if not (
            (isinstance(rhs, Binary) and rhs.op == "@")
            or (isinstance(rhs, Call) and rhs.func == "mean")
        ):
            self.p.let(name.text, expr, loc=self.at(name))
        self.target = self.root = None

    def lower(self, node: Node) -> sp.Expr:
        return Lowering(
            self.src,
            self.resolve,
            matmul=self.inline_matmul,
            moment=self.inline_moment,
            check_matmul=self.check_matmul,
        )(node)

    # ------------------------------------------------------------------ inline @ and mean
    def fresh_name(self) -> str:
        """``_<target>_<k>``: deterministic, and never a name the file mentions anywhere."""
        name = fresh_name(f"_{self.target}", self.mentioned, self.p, start=self._fresh + 1)
        self._fresh = int(name.rpartition("_")[2])
        return name

    def _node_name(self, node: Node, tok: Token) -> tuple[str, object]:
        """The root of the right-hand side is named by the target; inner ones are fresh."""
        if node is self.root:
            return self.target, self.at(self.target_tok)
        return self.fresh_name(), self.at(tok)

    def inline_moment(self, node: Call, arg: sp.Expr) -> sp.Expr:
        name, loc = self._node_name(node, node.tok)
        return self.p.moment(name, arg, loc=loc)

    def check_matmul(self, node: Binary) -> None:
        """The left of '@' is an initial matrix (or its .T); a plain-name right operand is not
        a matrix. Runs before the right operand is lowered, for precise messages."""
        outer = []
        while isinstance(node.left, Binary) and node.left.op == "@":  # (W @ x) @ y
            outer.append(node)
            node = node.left
        self._check_one_matmul(node)
        if outer:
            raise ProgramError(
                "'@' needs a matrix on its left, but here the left side is a matrix product "
                "(a vector)",
                loc=self.at(outer[-1].tok),
                hint="apply one matrix at a time, right to left: W @ (V @ x)",
            )

    def _check_one_matmul(self, node: Binary) -> None:
        left = node.left
        if isinstance(left, Transpose):
            left = left.operand
        if not isinstance(left, Name):
            scaled = isinstance(left, Call) is False and _ends_with_matrix(left, self.p)
            raise ProgramError(
                "the left side of '@' must be the name of a matrix (or its .T)",
                loc=self.at(first_token(left)),
                hint="'@' binds like '*', left to right: write c * (W @ x), not c * W @ x"
                if scaled
                else "W @ x or W.T @ x, with W declared by 'matrix W ~ N(0, 1/n)'",
            )
        if left.name not in self.p:
            raise self.undefined(left.tok)
        kind = self.p.kind(left.name)
        if kind != "matrix":
            raise ProgramError(
                f"'{left.name}' is a {kind}, not a matrix",
                loc=self.at(left.tok),
                hint="'@' multiplies an initial matrix with a vector; use '*' for "
                "coordinatewise products of vectors and scalars",
            )
        right = node.right
        if isinstance(right, Transpose):
            right = right.operand
        if isinstance(right, Name) and right.name in self.p and self.p.kind(right.name) == "matrix":
            raise ProgramError(
                f"'{right.name}' is a matrix; a Tensor Program multiplies matrices only with "
                "vectors",
                loc=self.at(right.tok),
                hint=f"apply one matrix at a time: {left.name} @ ({right.name} @ x)",
            )

    def inline_matmul(self, node: Binary, right: sp.Expr) -> sp.Expr:
        left, transpose = node.left, False
        if isinstance(left, Transpose):
            left, transpose = left.operand, True
        rtok = first_token(node.right)
        vectors = [s for s in right.free_symbols if self.p.kind(s.name) == "vector"]
        if not vectors:
            what = f"'{right.name}'" if isinstance(right, sp.Symbol) else "this operand"
            raise ProgramError(
                f"a matrix product needs a vector, but {what} is a scalar",
                loc=self.at(rtok),
                hint="use '*' to multiply by a scalar",
            )
        if not isinstance(right, sp.Symbol):  # W @ (expr): name the vector first
            vname = self.fresh_name()
            right = self.p.nonlin(vname, right, loc=self.at(rtok))
        name, loc = self._node_name(node, left.tok)
        return self.p.matmul(name, left.name, right.name, transpose=transpose, loc=loc)


def _ends_with_matrix(node: Node, p: Program) -> bool:
    """``c * W`` (a product chain whose last factor is a matrix name): the classic slip
    ``c * W @ x``, which Python's precedence reads as ``(c * W) @ x``."""
    if isinstance(node, Chain) and node.kind == "mul":
        last = node.rest[-1][1]
        return isinstance(last, Name) and last.name in p and p.kind(last.name) == "matrix"
    return False
