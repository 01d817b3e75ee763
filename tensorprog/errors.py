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


CONTEXT_WIDTH = 120  # characters of a source line shown under an error


def clip_line(text: str, col: int, width: int = CONTEXT_WIDTH) -> tuple[str, int]:
    """The part of a source line to show around 1-based column ``col`` (at most ``width``
    characters plus "..." marks where it was cut) and the caret's 0-based offset in it: an
    error at column 10^6 of a 1 MB line shows 120 characters, not the whole line."""
    if len(text) <= width:
        return text, col - 1
    start = max(0, min(col - 1 - width // 2, len(text) - width))
    head = "..." if start > 0 else ""
    tail = "..." if start + width < len(text) else ""
    return head + text[start : start + width] + tail, col - 1 - start + len(head)


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

    def locate(self, loc: SourceLoc | None) -> TensorProgError:
        """Attach a source location to an error that has none (the message is rebuilt)."""
        if self.loc is None and loc is not None:
            self.loc = loc
            self.args = (self.format(),)
        return self

    def format(self) -> str:
        where = ""
        if self.loc is not None:
            where = f"{self.loc}: "
        elif self.node is not None:
            where = f"node '{self.node}': "
        out = f"{where}{self.kind}: {self.message}"
        if self.loc is not None and self.loc.line_text:
            text, caret = clip_line(self.loc.line_text, self.loc.col)
            out += f"\n    {text}\n    {' ' * caret}^"
        if self.hint:
            out += f"\n  hint: {self.hint}"
        return out


class ProgramError(TensorProgError):
    """An ill-formed program: unknown name, type mismatch, duplicate, cycle, bad covariance."""

    kind = "program error"


class UnknownNameError(ProgramError, KeyError):
    """A name the program (or result) does not have; also a KeyError, for mapping-style
    lookups such as ``limit["f_9"]``."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return self.format()


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
