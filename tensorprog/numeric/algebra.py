"""Evaluating program expressions on particles: numpy arrays for vectors, floats for scalars.

Every whitelisted function is applied through the one numpy algebra of the package
(tensorprog.numpy_algebra), which the finite-width interpreter and the trainer use too, so a limit
and a simulation evaluate φ alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from ..expr import fold
from ..numpy_algebra import NumpyAlgebra


class ParticleAlgebra(NumpyAlgebra):
    """Folds an expression over node symbols; ``env`` maps names to floats or (M,) arrays
    (the shared numpy algebra with IEEE constants: 1/0 is inf, reported by the engine)."""

    def __init__(self, env: dict[str, Any], node: str) -> None:
        super().__init__(env, node, ieee=True)


def evaluate(expr: sp.Expr, env: dict[str, Any], node: str) -> Any:
    """``expr`` evaluated on the particles (an array) or on scalars only (a float)."""
    with np.errstate(all="ignore"):  # non-finite values are reported by the interpreter
        return fold(expr, ParticleAlgebra(env, node))
