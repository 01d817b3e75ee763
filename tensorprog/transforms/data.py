"""Reading numbers and training data exactly (shared by the builders, the transformation and
the CLI)."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import sympy as sp

from ..errors import ProgramError, TensorProgError
from ..ir import as_number


def read_number(value, what: str) -> sp.Expr:
    """A sympy number from an int, Fraction, float, sympy number, numpy scalar or text.

    Text is read with :class:`fractions.Fraction` (integers, ``a/b``, decimals, ``1e-3``), so
    ``"0.02"`` is the exact 1/50; never evaluated. Python floats stay floats (inexact).
    """
    if isinstance(value, np.integer):
        value = int(value)
    elif isinstance(value, np.floating):
        value = float(value)
    if isinstance(value, str):
        try:
            value = Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise TensorProgError(
                f"{what}: cannot read {value!r} as a number",
                hint="write an integer, a fraction like 1/50 or a decimal like 0.02",
            ) from None
    try:
        out = as_number(value)
    except ProgramError as e:
        raise TensorProgError(f"{what}: {e.message}", hint=e.hint) from None
    if out.is_real is False or out.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        raise TensorProgError(f"{what}: {value!r} is not a finite real number")
    if isinstance(out, sp.Float) and not np.isfinite(float(out)):
        raise TensorProgError(f"{what}: {value!r} is not a finite real number")
    return out


def is_sequence(value) -> bool:
    return not isinstance(value, (str, bytes)) and isinstance(value, (Sequence, np.ndarray))


def read_row(value, k: int, what: str) -> tuple[sp.Expr, ...]:
    """A tuple of ``k`` numbers from a sequence (or one number when k == 1)."""
    if not is_sequence(value):
        vals: tuple[sp.Expr, ...] = (read_number(value, what),)
    else:
        vals = tuple(read_number(v, f"{what}[{j}]") for j, v in enumerate(value))
    if len(vals) != k:
        raise TensorProgError(
            f"{what} has {len(vals)} values but {k} are expected",
            hint=f"give {k} value(s) per row",
        )
    return vals
