"""NumericLimit: the numeric limit of every scalar, each with an error estimate."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from ..errors import TensorProgError
from ..ir import Program
from ..result import LimitResult


class NumericLimit(LimitResult):
    """The infinite-width limit of a program's scalars, computed numerically.

    Mirrors :class:`tensorprog.polynomial.Limit` where it makes sense:

    * ``scalars`` / ``outputs``: sympy Floats (never exact: ``is_exact`` is False);
    * ``errors``: one error estimate per scalar — the standard error over independent particle
      batches (``method == "mc"``) or the difference between the Gauss–Hermite rule with q and
      ⌈q/2⌉ points per coordinate plus a rounding floor (``method == "quadrature"``);
    * ``mode`` is ``"numeric"``; ``method``, ``options`` say how the numbers were obtained;
    * ``batch_values[name]``: the per-batch values (mc) or (coarse, fine) values (quadrature).
    """

    def __init__(
        self,
        program: Program,
        method: str,
        values: dict[str, float],
        errors: dict[str, float],
        batch_values: dict[str, np.ndarray],
        options: dict[str, Any],
        seconds: float,
        warnings: dict[str, str] | None = None,
    ) -> None:
        self.program = program
        self.mode = "numeric"
        self.method = method
        self.domain = "float"
        self.scalars: dict[str, sp.Expr] = {k: sp.Float(v) for k, v in values.items()}
        self.errors: dict[str, float] = dict(errors)
        self.batch_values = batch_values
        self.options = dict(options)
        self.seconds = seconds
        self.warnings: dict[str, str] = dict(warnings or {})

    def error(self, name: str) -> float:
        """The error estimate of scalar ``name``."""
        self._known(name)
        return self.errors[name]

    def is_exact(self, name: str) -> bool:
        """Always False: numeric limits are floating-point estimates (see ``errors``)."""
        self._known(name)
        return False

    def status(self, name: str) -> str:
        """"ok", or why the value is unreliable (``warnings``: e.g. a heavy tail)."""
        self._known(name)
        return self.warnings.get(name, "ok")

    @property
    def kind(self) -> str:
        return f"numeric ({self.method})"

    def Z(self, name: str) -> sp.Expr:  # noqa: N802 - mirrors Limit.Z
        """Not available: numeric mode holds each Z only as values on particles."""
        raise TensorProgError(
            f"the numeric limit has no symbolic Z for '{name}'",
            node=name,
            hint="Z is symbolic only in exact mode (polynomial programs, mode='exact'); "
            "add a Moment such as mean(" + name + "^2) to get a number about it",
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: every scalar's value (text), float, error and exact=False."""

        def entry(name: str) -> dict[str, Any]:
            v = self.scalars[name]
            return {"value": self.text(name, 17).split(" ")[0], "float": float(v),
                    "error": self.errors[name], "exact": False, "status": self.status(name)}

        return {
            "program": self.program.name,
            "mode": self.mode,
            "method": self.method,
            "domain": self.domain,
            "options": self.options,
            "seconds": self.seconds,
            "outputs": {n: entry(n) for n in self.outputs},
            "scalars": {n: entry(n) for n in self.scalars},
        }
