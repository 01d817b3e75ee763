"""The project's error types: every user-facing failure is a TensorProgError that names
the place (file:line:col when known, else the program node) and says how to fix it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceLoc:
    """A place in a `.tp` source text (1-based line and column)."""

    file: str
    line: int
    col: int
    line_text: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class TensorProgError(Exception):
    """Base class of all errors tensorprog raises on purpose.

    ``loc`` (a SourceLoc) or ``node`` (a program node name) says where; ``hint`` says the fix.
    """

    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        loc: SourceLoc | None = None,
        node: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.loc = loc
        self.node = node
        self.hint = hint
        super().__init__(self.format())

    def format(self) -> str:
        where = ""
        if self.loc is not None:
            where = f"{self.loc}: "
        elif self.node is not None:
            where = f"node '{self.node}': "
        out = f"{where}{self.kind}: {self.message}"
        if self.loc is not None and self.loc.line_text:
            out += f"\n    {self.loc.line_text}\n    {' ' * (self.loc.col - 1)}^"
        if self.hint:
            out += f"\n  hint: {self.hint}"
        return out


class ProgramError(TensorProgError):
    """An ill-formed program: unknown name, type mismatch, duplicate, cycle, bad covariance."""

    kind = "program error"


class ParseError(TensorProgError):
    """Malformed `.tp` text."""

    kind = "syntax error"


class NonPolynomialError(TensorProgError):
    """Exact mode met a non-polynomial function of a vector."""

    kind = "not exact"


class BudgetExceeded(TensorProgError):
    """A derivation outgrew the budget it was given."""

    kind = "budget exceeded"


class ParametrizationError(TensorProgError):
    """An abc-parametrization that is invalid or unstable for the requested use."""

    kind = "parametrization error"
