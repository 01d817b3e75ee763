"""Moved to :mod:`tensorprog.syntax.lexer` (the expression grammar is a leaf below the IR);
this module re-exports it so that existing imports keep working."""

from ..syntax.lexer import *  # noqa: F403
