"""The `.tp` program language: a safe, whitelisted text form of Tensor Programs.

    parse(text, filename)   -> Program
    load(path)              -> Program
    parse_expression(text)  -> sympy expression (what Program.let("x", "a^2 + 1") uses)
    to_tp(program)          -> .tp text, with parse(to_tp(p)) == p

The grammar, with examples, is in docs/language.md. Text is tokenized and parsed by hand;
nothing is ever passed to eval/exec/sympify.
"""

from __future__ import annotations

import os

import sympy as sp

from ..errors import ProgramError, SourceLoc
from ..files import read_text  # regular files only: a FIFO or /dev/zero is refused
from ..functions import FUNCTIONS
from ..ir import RESERVED, Program, sym
from .expr import Lowering, Name, Stream
from .lexer import EOF, NEWLINE, Source, tokenize
from .parser import ProgramParser
from .printer import expr_to_tp, to_tp

__all__ = ["expr_to_tp", "load", "parse", "parse_expression", "to_tp"]


def parse(text: str, filename: str = "<string>") -> Program:
    """Parse `.tp` source text into a validated Program.

    Raises ParseError (malformed text) or ProgramError (an ill-formed program), both with
    ``file:line:col``, the source line, a caret and a hint.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse() needs a str, got {type(text).__name__}")
    return ProgramParser(text, filename).parse()


def load(path: str | os.PathLike) -> Program:
    """Read and parse a `.tp` file; its Program is named after the file."""
    path = os.fspath(path)
    return parse(read_text(path, what="program"), filename=path)


class _ExprSource(Source):
    """Locations inside a standalone expression, reported at the caller's file and line."""

    def __init__(self, text: str, loc: SourceLoc | None) -> None:
        super().__init__(text, loc.file if loc else "<expression>")
        self.base_line = loc.line if loc else 1

    def loc(self, line: int, col: int) -> SourceLoc:
        inner = super().loc(line, col)
        return SourceLoc(self.filename, self.base_line + line - 1, col, inner.line_text)


def parse_expression(text: str, loc: SourceLoc | None = None) -> sp.Expr:
    """Parse one expression (no ``mean``, ``@`` or ``.T``) into sympy over ``ir.sym`` symbols.

    Names are not checked against any program (the caller, e.g. ``Program.let``, does that).
    Errors point into ``text``; with ``loc`` they carry its file and line.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_expression() needs a str, got {type(text).__name__}")
    src = _ExprSource(text, loc)
    stream = Stream(src, tokenize(src))
    node = stream.expression()
    tok = stream.peek()
    if tok.kind == NEWLINE:
        stream.next()
        tok = stream.peek()
    if tok.kind != EOF:
        raise stream.error(
            f"expected the end of the expression, found {tok}",
            tok,
            hint="one expression only; write '*' between factors",
        )

    def resolve(n: Name) -> sp.Expr:
        if n.name in RESERVED:
            hint = (
                f"call it: {n.name}(x)"
                if n.name in FUNCTIONS or n.name == "mean"
                else "rename the variable"
            )
            raise ProgramError(f"'{n.name}' is reserved", loc=src.at(n.tok), hint=hint)
        return sym(n.name)

    return Lowering(src, resolve)(node)
