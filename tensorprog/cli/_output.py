"""Shared output of the subcommands: aligned tables, exact numbers as text (no CPython
4300-digit limit), floats correct at any magnitude, LaTeX, and the one strict-JSON writer."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import sympy as sp

from ..errors import TensorProgError
from ..files import read_text
from ..ir import Program
from ..lang import parse
from ..result import (  # noqa: F401 - re-exported for the subcommands
    abbreviate,
    approx_text,
    exact_text,
    latex_name,
    latex_value,
    to_float,
)


def load_program(path: str) -> Program:
    """The Program in a `.tp` file (errors are TensorProgErrors with file:line:col); special
    files (FIFOs, devices) and oversized files are refused before reading."""
    return parse(read_text(path, what="program"), filename=path)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned text table (numbers right-aligned when a column looks numeric)."""
    cols = list(zip(headers, *rows)) if rows else [(h,) for h in headers]
    widths = [max(len(str(c)) for c in col) for col in cols]
    numeric = [all(_looks_numeric(r[i]) for r in rows) if rows else False
               for i in range(len(headers))]  # fmt: skip

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, c in enumerate(cells):
            out.append(str(c).rjust(widths[i]) if numeric[i] else str(c).ljust(widths[i]))
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def _looks_numeric(s: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[0-9./e+\- ±]+|nan|n/a", str(s)))


def float_text(v: sp.Expr, digits: int = 10) -> str:
    """A ``digits``-significant-digit approximation at any magnitude (correct for tiny exact
    values such as erf(30) - 1)."""
    return approx_text(v, digits)


def strict(obj: Any) -> Any:
    """``obj`` made strict-JSON: NaN/±Infinity become null, and a dict entry that was one gets a
    sibling ``"<key>_status"`` ("infinite", "-infinite" or "undefined"); numpy and sympy
    numbers become plain ones."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            status = _nonfinite(v)
            out[k] = None if status else strict(v)
            if status and f"{k}_status" not in obj:
                out[f"{k}_status"] = status
        return out
    if isinstance(obj, (list, tuple)):
        return [None if _nonfinite(v) else strict(v) for v in obj]
    if isinstance(obj, np.generic):
        return strict(obj.item())
    if isinstance(obj, np.ndarray):
        return strict(obj.tolist())
    if isinstance(obj, sp.Integer):
        return int(obj)
    if isinstance(obj, sp.Basic):
        return exact_text(obj)
    return obj


def _nonfinite(v: Any) -> str | None:
    if isinstance(v, (float, np.floating)) and not math.isfinite(v):
        return "undefined" if math.isnan(v) else ("infinite" if v > 0 else "-infinite")
    return None


def json_text(obj: Any) -> str:
    """Strict JSON (RFC 8259: no NaN or Infinity) of ``obj``, indented."""
    return json.dumps(strict(obj), indent=2, allow_nan=False)


def print_json(obj: Any) -> None:
    """Print ``obj`` as strict JSON (see :func:`strict`) on stdout; the one JSON writer of the
    command line."""
    sys.stdout.write(json_text(obj) + "\n")


def check_positive(value: int, option: str) -> None:
    if value < 1:
        raise TensorProgError(f"{option} must be at least 1, got {value}")


def positive_number(text: str) -> float:
    """argparse type: a positive, finite number ("nan", "inf", "0", "-1" are refused)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a positive finite number (leave the option out for no limit)")
    return v


def positive_int(text: str) -> int:
    """argparse type: a positive integer."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return v


def number_items(text: str, what: str, sep: str = ",") -> list[str]:
    """The items of a ``sep``-separated list, stripped; an empty list or an empty item
    ("1,,2", "1,2,") is an error naming the position, not silently skipped."""
    items = [s.strip() for s in text.split(sep)]
    if not text.strip():
        raise TensorProgError(f"{what} is empty", hint=f"give {sep}-separated numbers")
    for i, s in enumerate(items):
        if not s:
            raise TensorProgError(f"{what}: item {i + 1} of {text!r} is empty",
                                  hint=f"separate numbers by a single '{sep}'")
    return items


def matrix_rows(M: sp.Matrix, left: str = "[ ", right: str = " ]") -> list[str]:
    """The rows of a matrix of exact values, aligned; numbers too long for a terminal
    abbreviated (sympy's own printing fails past Python's 4300-digit str limit)."""
    cells = [[abbreviate(exact_text(M[i, j])) for j in range(M.cols)] for i in range(M.rows)]
    width = max((len(c) for row in cells for c in row), default=1)
    return [left + "  ".join(c.rjust(width) for c in row) + right for row in cells]
