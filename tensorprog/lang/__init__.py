"""The `.tp` program language: a safe, whitelisted text form of Tensor Programs.

    parse(text, filename)   -> Program
    load(path)              -> Program
    parse_expression(text)  -> sympy expression (what Program.let("x", "a^2 + 1") uses;
                               defined in tensorprog.syntax, below the IR)
    to_tp(program)          -> .tp text, with parse(to_tp(p)) == p

The grammar, with examples, is in docs/language.md. Text is tokenized and parsed by hand;
nothing is ever passed to eval/exec/sympify.
"""

from __future__ import annotations

import os

from ..files import read_text  # regular files only: a FIFO or /dev/zero is refused
from ..ir import Program
from ..syntax import parse_expression
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
