"""The expression grammar of the `.tp` language, below the IR.

:mod:`.lexer` tokenizes text, :mod:`.expr` parses expressions to a small AST and lowers it to
sympy through a whitelist; :func:`parse_expression` is what ``Program.let("x", "a^2 + 1")`` uses.
Nothing here knows about programs: the statement parser (:mod:`tensorprog.lang`) sits above the
IR and uses this package. Text is never passed to eval/exec/sympify.
"""

from __future__ import annotations

import sympy as sp

from ..errors import ProgramError, SourceLoc
from ..functions import FUNCTIONS
from ..symbols import RESERVED, sym
from .expr import Lowering, Name, Stream
from .lexer import EOF, NEWLINE, Source, tokenize

__all__ = ["parse_expression"]


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
