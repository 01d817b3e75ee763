"""Moved to :mod:`tensorprog.syntax.expr` (the expression grammar is a leaf below the IR);
this module re-exports it so that existing imports keep working."""

from ..syntax.expr import *  # noqa: F403
