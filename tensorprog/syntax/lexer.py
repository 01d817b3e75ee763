"""Tokenizer for `.tp` text: names, numbers, operators, newlines; ``#`` starts a comment.

Newlines inside ``( )`` and ``[ ]`` are dropped, so a covariance matrix may span lines.
Every token carries its 1-based line and column for error messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ParseError, SourceLoc

NAME, NUMBER, OP, NEWLINE, EOF = "NAME", "NUMBER", "OP", "NEWLINE", "EOF"

# Longest first, so that "**" wins over "*".
_OPERATORS = ("**", "+", "-", "*", "/", "^", "@", ".", "(", ")", "[", "]", ",", "=", "~")
_SINGLE = frozenset(o for o in _OPERATORS if len(o) == 1)
_CLOSING = {")": "(", "]": "["}
MAX_NAME = 256  # characters of a name


@dataclass(frozen=True)
class Token:
    """One lexical token. ``text`` is the exact source text (``"\\n"`` for NEWLINE)."""

    kind: str
    text: str
    line: int
    col: int

    def __str__(self) -> str:
        if self.kind == NEWLINE:
            return "end of line"
        if self.kind == EOF:
            return "end of input"
        return f"'{self.text}'"


class Source:
    """The text being parsed, for turning (line, col) into SourceLocs with the line shown."""

    def __init__(self, text: str, filename: str = "<string>") -> None:
        self.text = text
        self.filename = filename
        # split on "\n" only: the lexer counts lines the same way
        self.lines = [ln.rstrip("\r") for ln in text.split("\n")]
        self._shown: dict[int, str] = {}  # one cached copy of each line a location refers to

    def loc(self, line: int, col: int) -> SourceLoc:
        shown = self._shown.get(line)
        if shown is None:
            raw = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
            shown = self._shown[line] = raw.expandtabs(1)
        return SourceLoc(self.filename, line, col, shown)

    def at(self, tok: Token) -> SourceLoc:
        return self.loc(tok.line, tok.col)


def _is_name_start(c: str) -> bool:
    return c == "_" or ("a" <= c <= "z") or ("A" <= c <= "Z")


def _is_name_char(c: str) -> bool:
    return _is_name_start(c) or ("0" <= c <= "9")


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"


def tokenize(src: Source) -> list[Token]:
    """Split ``src`` into tokens; raises ParseError on a character outside the language."""
    text = src.text
    toks: list[Token] = []
    brackets: list[Token] = []
    i, line, col = 0, 1, 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            if not brackets:
                toks.append(Token(NEWLINE, "\n", line, col))
            i, line, col = i + 1, line + 1, 1
            continue
        if c in " \t\r\f\v":
            i, col = i + 1, col + 1
            continue
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        start = i
        if _is_name_start(c):
            while i < n and _is_name_char(text[i]):
                i += 1
            if i - start > MAX_NAME:  # messages quote names: keep them readable
                raise ParseError(
                    f"a name of {i - start} characters is too long",
                    loc=src.loc(line, col),
                    hint=f"names have at most {MAX_NAME} characters",
                )
            toks.append(Token(NAME, text[start:i], line, col))
        elif _is_digit(c) or (c == "." and i + 1 < n and _is_digit(text[i + 1])):
            i = _scan_number(text, i)
            toks.append(Token(NUMBER, text[start:i], line, col))
        else:
            op = "**" if text.startswith("**", i) else (c if c in _SINGLE else None)
            if op is None:
                raise ParseError(
                    f"unexpected character {c!r}",
                    loc=src.loc(line, col),
                    hint="names use ASCII letters, digits and _; operators are "
                    "+ - * / ^ ** @ and .T; comments start with #",
                )
            tok = Token(OP, op, line, col)
            if op in "([":
                brackets.append(tok)
            elif op in ")]":
                if not brackets or brackets[-1].text != _CLOSING[op]:
                    raise ParseError(
                        f"unmatched '{op}'",
                        loc=src.at(tok),
                        hint="remove it or add the matching opening bracket",
                    )
                brackets.pop()
            toks.append(tok)
            i += len(op)
        col += i - start
    if brackets:
        tok = brackets[-1]
        raise ParseError(
            f"'{tok.text}' is never closed",
            loc=src.at(tok),
            hint=f"add the matching '{')' if tok.text == '(' else ']'}'",
        )
    toks.append(Token(NEWLINE, "\n", line, col))
    toks.append(Token(EOF, "", line, col))
    return toks


def _scan_number(text: str, i: int) -> int:
    """End index of the number starting at ``i``: digits [. digits] [e[+-]digits]."""
    n = len(text)
    while i < n and _is_digit(text[i]):
        i += 1
    if i < n and text[i] == ".":
        i += 1
        while i < n and _is_digit(text[i]):
            i += 1
    if i < n and text[i] in "eE":
        j = i + 1
        if j < n and text[j] in "+-":
            j += 1
        if j < n and _is_digit(text[j]):
            while j < n and _is_digit(text[j]):
                j += 1
            i = j
    return i
