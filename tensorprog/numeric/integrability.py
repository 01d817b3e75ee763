"""Does an expectation exist? Numeric mode must not report a finite value with an error bar for
E[1/x] (undefined), E[1/x²] or E[exp(x²)] (infinite): ZMoment needs E|φ(Z)| < ∞.

Two structural checks, both confirmed on the particles before refusing:

* singularities -- a negative power b^-p of a vector-dependent b that changes sign behaves like
  |t|^-p near a simple zero t of b, and E|t|^-p = ∞ iff p ≥ 1;
* heavy tails -- the zero-weight tail probes of the particle set (particles.PROBE_RADII) show
  whether the integrand grows like exp(|u|²/2) (E = ∞) or exp(|u|²/4) (E[φ²] = ∞: the value
  exists but no particle error bar is reliable) along some ray of the standard innovations u.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from ..errors import ProgramError
from ..functions import SYMPY_HEADS
from ..ir import Moment, Program
from .algebra import evaluate
from .particles import PROBE_RADII, ParticleSet

#: Bounded functions: no singularity of their argument survives them.
BOUNDED = frozenset({"tanh", "sigmoid", "erf", "sin", "cos", "step"})


class Integrability:
    """The singular order of each vector so far, and the checks of each ZMoment."""

    def __init__(self, program: Program, particles: ParticleSet,
                 warnings: dict[str, str]) -> None:  # fmt: skip
        self.program = program
        self.ps = particles
        # Order p of the strongest singularity |b|^-p of each vector (0: none).
        self.order: dict[str, float] = {}
        # scalar -> why its value is unreliable (shared by the passes of one derivation)
        self.warnings = warnings

    def singular_order(self, expr: sp.Expr, node: str, env: dict[str, Any]) -> float:
        """The order p of the strongest singularity of ``expr`` as a function of the Gaussians.
        Orders add in products, take the max in sums, scale with powers, and vanish inside
        bounded functions (tanh, sigmoid, erf, sin, cos, step). Structural, so it can miss a
        cancellation spread over several nodes (y = 1/x; mean(x*y)): write such quotients in
        one expression, where sympy cancels them."""
        vectors = self.order
        program = self.program
        size = self.ps.size

        def is_vec(e: sp.Expr) -> bool:
            return any(s.name in vectors or program.kind(s.name) == "vector"
                       for s in e.free_symbols)

        def order(e: sp.Expr) -> float:
            if e.is_Symbol:
                return vectors.get(e.name, 0.0)
            if e.is_Number or not is_vec(e):
                return 0.0
            if e.is_Add:
                return max(order(a) for a in e.args)
            if e.is_Mul:
                return sum(order(a) for a in e.args)
            if e.is_Pow:
                ex = e.exp
                if not ex.is_number:
                    return order(e.base)
                p = float(ex)
                if p >= 0:
                    return p * order(e.base)
                b = np.asarray(evaluate(e.base, env, node), float)[:size]
                if b.size and (np.any(b == 0) or (np.nanmin(b) < 0 < np.nanmax(b))):
                    return -p
                return 0.0
            if e.func in SYMPY_HEADS and SYMPY_HEADS[e.func] in BOUNDED:
                return 0.0
            return max((order(a) for a in e.args if isinstance(a, sp.Expr)), default=0.0)

        return order(expr)

    def check_moment(self, node: Moment, v: np.ndarray, env: dict[str, Any]) -> None:
        """Refuse, naming the reason, when the integrand has a non-integrable singularity
        (order ≥ 1, e.g. 1/x, 1/x²) or grows at least like exp(|u|²/2) along a probe ray (e.g.
        exp(x²)): then the particle average is a finite number with an error bar for an
        expectation that does not exist."""
        p = self.singular_order(node.expr, node.name, env)
        a = np.abs(np.asarray(v, float)[: self.ps.size])
        # ... and the particles near the zero must show it: values far beyond the typical
        # (relu(x)/x = step(x) has a vanishing denominator and no singularity).
        if p >= 1 and a.size and np.max(a) > 20 * max(float(np.mean(a)), 1e-300):
            raise ProgramError(
                f"'{node.name}': the expectation does not exist: its integrand has a "
                f"singularity like 1/|t|^{p:g} where a denominator changes sign",
                loc=node.loc, node=node.name,
                hint="E|1/t|^p is infinite for p ≥ 1 (E[1/x] is undefined, E[1/x²] = +∞); "
                "keep denominators away from 0, e.g. 1/(1 + x^2)",
            )
        ps = self.ps
        if ps.probes is None or len(ps.probes) < 2 or not np.all(np.isfinite(a)):
            return  # non-finite values on the particles themselves are reported as such
        far = np.abs(np.asarray(v, float)[ps.size:])
        r1, r2 = PROBE_RADII
        gauss = (r2**2 - r1**2) / 2  # growth of log(1/density) between the radii
        with np.errstate(all="ignore"):
            near, out = far[0::2], far[1::2]
            growth = np.log(out) - np.log(near)
            # An overflow at r2 still proves growth ≥ log(max double) - log(near).
            bound = np.where(np.isfinite(out), growth, 709.78 - np.log(near))
            heavy = (np.isinf(near) & ~np.isnan(near)) | (bound >= 0.999 * gauss)
        if not np.any(heavy) and np.any(bound >= 0.999 * gauss / 2):
            # E[φ²] = ∞: the mean exists but no error estimate from particles is reliable.
            self.warnings[node.name] = (
                "heavy tail: E[φ²] = ∞ (the integrand grows like exp(|Z|²/4) or faster), so "
                "the value and its error bar are unreliable")
        if np.any(heavy):
            raise ProgramError(
                f"'{node.name}': the expectation is infinite: its integrand grows at least "
                f"like exp(|Z|²/2) far out, faster than the Gaussian density decays",
                loc=node.loc, node=node.name,
                hint="E[exp(c x^2)] = ∞ for c ≥ 1/(2 Var x); the particle average would be "
                "a finite number for a quantity that does not exist",
            )
