"""Program -> `.tp` text, such that ``parse(to_tp(p)) == p``.

Expressions are printed by walking the sympy tree (Add / Mul / Pow / numbers / symbols /
whitelisted function heads) rather than with sympy's printers, so that reparsing rebuilds
exactly the same (canonical) sympy expression. Rationals print as ``p/q``; Floats print with
``repr`` (the shortest text that reads back as the same double). The round trip is exact for
every program whose Floats are IEEE doubles (what `.tp` decimal literals and Python floats
are); a sympy Float of higher precision, or outside the double range, prints rounded.
"""

from __future__ import annotations

import gmpy2
import sympy as sp

from ..errors import ProgramError
from ..functions import SYMPY_HEADS
from ..ir import (
    InitMatrix,
    InitScalar,
    InitVector,
    MatMul,
    Moment,
    Nonlin,
    Program,
    ScalarOp,
    dispatch,
    node_table,
)

# precedence of what a printed piece is, loosest first (matches tensorprog.syntax.expr)
ADD, MUL, NEG, POW, ATOM = 10, 20, 30, 40, 50


def _int(i: int) -> str:
    return gmpy2.mpz(i).digits()  # no CPython 4300-digit int->str limit


def _wrap(piece: tuple[str, int], min_prec: int) -> str:
    text, prec = piece
    return text if prec >= min_prec else f"({text})"


def _number(e: sp.Expr) -> tuple[str, int]:
    if e.is_Integer:
        return _int(int(e)), (NEG if e < 0 else ATOM)
    if e.is_Rational:
        text = f"{_int(int(e.p))}/{_int(int(e.q))}"
        return text, (NEG if e < 0 else MUL)
    if isinstance(e, sp.Float):
        v = float(e)
        if v != v or v in (float("inf"), float("-inf")):
            raise ProgramError(f"cannot write the non-finite number {e} in .tp text")
        return repr(v), (NEG if repr(v).startswith("-") else ATOM)
    raise ProgramError(f"cannot write the number {e} in .tp text")


def _is_negative_term(t: sp.Expr) -> bool:
    if t.is_Number:
        return bool(t < 0)
    return bool(t.is_Mul and t.args[0].is_Number and t.args[0] < 0)


def _print(e: sp.Expr) -> tuple[str, int]:
    """(text, precedence) of ``e``."""
    if e.is_Number:
        return _number(e)
    if e.is_Symbol:
        return e.name, ATOM
    if e is sp.E:
        return "exp(1)", ATOM
    if e.is_Add:
        terms = list(e.args)
        out = _wrap(_print(terms[0]), ADD)
        for t in terms[1:]:
            if _is_negative_term(t):
                out += " - " + _wrap(_print(-t), MUL)
            else:
                out += " + " + _wrap(_print(t), MUL)
        return out, ADD
    if e.is_Mul:
        return _print_mul(e)
    if e.is_Pow:
        return _print_pow(e)
    head = SYMPY_HEADS.get(e.func)
    if head is not None:
        if e.func is sp.Heaviside:
            if len(e.args) == 2 and e.args[1] != sp.S.Half:
                raise ProgramError(
                    f"cannot write {e} in .tp text: step(x) is Heaviside with H(0) = 1/2"
                )
        elif len(e.args) != 1:
            raise ProgramError(f"cannot write {e} in .tp text")
        return f"{head}({_print(e.args[0])[0]})", ATOM
    raise ProgramError(
        f"cannot write {e} in .tp text: {type(e).__name__} is not part of the language",
        hint="use the functions of tensorprog.functions.FUNCTIONS",
    )


def _print_mul(e: sp.Expr) -> tuple[str, int]:
    coeff, rest = e.as_coeff_Mul()
    factors = list(sp.Mul.make_args(rest))
    # numerator: non-Add factors first, because 'c*(a + b)*x' would reparse as
    # (c*a + c*b)*x: sympy distributes a number over a sum
    num = [f for f in factors if not (f.is_Pow and f.exp == -1)]
    num.sort(key=lambda f: bool(f.is_Add))
    den = [f.base for f in factors if f.is_Pow and f.exp == -1]
    body = "*".join(_wrap(_print(f), NEG + 1) for f in num)
    if den:
        body = (body or "1") + "".join("/" + _wrap(_print(d), NEG + 1) for d in den)
    if coeff == 1:
        return body, MUL
    if num and num[0].is_Add:
        body = f"({body})"
    if coeff == -1:
        return "-" + body, NEG
    ctext, cprec = _number(coeff)
    if not num:  # 2/x: the coefficient is the numerator
        return ctext + body[1:], (NEG if cprec == NEG else MUL)
    return f"{ctext}*{body}", (NEG if cprec == NEG else MUL)


def _print_pow(e: sp.Expr) -> tuple[str, int]:
    base, exp = e.args
    if exp == sp.S.Half:
        return f"sqrt({_print(base)[0]})", ATOM
    if exp == -1:
        return "1/" + _wrap(_print(base), NEG + 1), MUL
    b = _wrap(_print(base), ATOM)
    x = _print(exp)
    x_text = x[0] if (x[1] == ATOM and not x[0].startswith("-")) else f"({x[0]})"
    return f"{b}^{x_text}", POW


def expr_to_tp(e: sp.Expr) -> str:
    """`.tp` text of a sympy expression over ``ir.sym`` symbols."""
    try:
        return _print(sp.Integer(e) if isinstance(e, int) else e)[0]
    except RecursionError:  # only hand-built trees far deeper than the parser accepts
        raise ProgramError(
            "cannot write this expression in .tp text: it is nested too deeply",
            hint="split it into several nodes (the parser accepts 100 levels)",
        ) from None


def show(e: sp.Expr, limit: int = 60) -> str:
    """Short text of a number or expression for error messages (safe for huge integers)."""
    try:
        text = expr_to_tp(e)
    except ProgramError:
        text = type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _vector_lines(nodes: list[InitVector]) -> list[str]:
    """Consecutive InitVectors -> declarations: a group whose i-th member is correlated with
    exactly the earlier members (in order) prints as a covariance matrix; independent vectors
    of equal variance share a line; anything else gets cov(...) clauses."""
    lines: list[str] = []
    i = 0
    while i < len(nodes):
        v = nodes[i]
        j = i + 1
        if not v.cov:
            while j < len(nodes) and [o for o, _ in nodes[j].cov] == [n.name for n in nodes[i:j]]:
                j += 1
            if j - i >= 2:
                group = nodes[i:j]
                k = len(group)
                M = [[None] * k for _ in range(k)]
                for a, g in enumerate(group):
                    M[a][a] = g.var
                    for b, (_, c) in enumerate(g.cov):
                        M[a][b] = M[b][a] = c
                rows = ", ".join("[" + ", ".join(expr_to_tp(x) for x in r) + "]" for r in M)
                names = ", ".join(g.name for g in group)
                lines.append(f"vector {names} ~ N(0, [{rows}])")
                i = j
                continue
            while j < len(nodes) and not nodes[j].cov and nodes[j].var == v.var:
                j += 1
            names = ", ".join(g.name for g in nodes[i:j])
            lines.append(f"vector {names} ~ N(0, {expr_to_tp(v.var)})")
            i = j
            continue
        clauses = "".join(f", cov({v.name}, {o}) = {expr_to_tp(c)}" for o, c in v.cov)
        lines.append(f"vector {v.name} ~ N(0, {expr_to_tp(v.var)}){clauses}")
        i += 1
    return lines


def _param_attrs(program: Program, name: str, default_role: str) -> str:
    par = program.params[name]
    out = "" if par.role == default_role else f" role={par.role}"
    if par.lr != 1:
        out += f" lr={expr_to_tp(par.lr)}"
    return out


def _param_vector_line(program: Program, v: InitVector) -> str:
    clauses = "".join(f", cov({v.name}, {o}) = {expr_to_tp(c)}" for o, c in v.cov)
    attrs = _param_attrs(program, v.name, "vector")
    return f"param vector {v.name} ~ N(0, {expr_to_tp(v.var)}){clauses}{attrs}"


def _check_model(program: Program) -> None:
    """Parameters are initial vectors/matrices (matrices with role hidden); the inputs are
    InitScalars declared in input order. (The Program methods guarantee this; a program
    edited by hand may not.)"""
    for name, par in program.params.items():
        node = program.node(name) if name in program else None
        if not isinstance(node, (InitVector, InitMatrix)):
            raise ProgramError(f"parameter '{name}' is not an initial vector or matrix")
        if isinstance(node, InitMatrix) and par.role != "hidden":
            raise ProgramError(f"matrix parameter '{name}' has role '{par.role}', not 'hidden'")
    order = [n.name for n in program.nodes if n.name in set(program.inputs)]
    if order != list(program.inputs) or any(
        not isinstance(program.node(n), InitScalar) for n in order
    ):
        raise ProgramError("the inputs are not initial scalars declared in input order")


def _matrix_variance(var: sp.Expr) -> str:
    if var.is_Rational and var > 0:
        p, q = int(var.p), int(var.q)
        return f"{_int(p)}/n" if q == 1 else f"{_int(p)}/({_int(q)}*n)"
    return f"{_wrap(_print(var), MUL + 1)}/n"


def to_tp(program: Program) -> str:
    """The `.tp` text of ``program``; ``parse(to_tp(p)) == p``.

    Raises ProgramError for expressions outside the language (e.g. Max built by hand, pi)
    or non-finite floats.
    """
    title = " ".join(str(program.name).split())  # one line, whatever the name holds
    out = [f"# Tensor Program '{title}' (written by tensorprog.lang.to_tp)"]
    _check_model(program)
    params, inputs = program.params, set(program.inputs)
    nodes = program.nodes
    i = 0
    while i < len(nodes):
        node = nodes[i]
        if isinstance(node, InitVector) and node.name not in params:
            # consecutive initial vectors share one declaration (joint covariance)
            j = i
            while (
                j < len(nodes) and isinstance(nodes[j], InitVector) and nodes[j].name not in params
            ):
                j += 1
            out.extend(_vector_lines(nodes[i:j]))
            i = j
            continue
        if isinstance(node, InitScalar) and node.name in inputs:
            j = i
            while j < len(nodes) and nodes[j].name in inputs:
                j += 1
            out.append("input " + ", ".join(n.name for n in nodes[i:j]))
            i = j
            continue
        out.append(dispatch(_LINES, node, program))
        i += 1
    if program.outputs:
        out.append("output " + ", ".join(program.outputs))
    return "\n".join(out) + "\n"


def _matrix_line(program: Program, node: InitMatrix) -> str:
    params = program.params
    attrs = _param_attrs(program, node.name, "hidden") if node.name in params else ""
    kw = "param matrix" if node.name in params else "matrix"
    return f"{kw} {node.name} ~ N(0, {_matrix_variance(node.var)}){attrs}"


def _vector_line(program: Program, node: InitVector) -> str:
    if node.name in program.params:
        return _param_vector_line(program, node)
    return "\n".join(_vector_lines([node]))  # (runs of them are grouped by to_tp)


# One line of `.tp` per node kind (runs of initial vectors and inputs are grouped by to_tp).
_LINES = node_table("printer", {
    InitScalar: lambda program, node: f"scalar {node.name} = {expr_to_tp(node.value)}",
    InitVector: _vector_line,
    InitMatrix: _matrix_line,
    MatMul: lambda program, node: (
        f"{node.name} = {node.matrix}{'.T' if node.transpose else ''} @ {node.vector}"
    ),
    Nonlin: lambda program, node: f"{node.name} = {expr_to_tp(node.expr)}",
    Moment: lambda program, node: f"{node.name} = mean({expr_to_tp(node.expr)})",
    ScalarOp: lambda program, node: f"{node.name} = {expr_to_tp(node.expr)}",
})  # fmt: skip
