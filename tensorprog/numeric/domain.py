"""The particle domain of the Z-calculus: every Z its values on a particle set, every expectation
a weighted particle sum (tensorprog.zrules.ZDomain).

* ZInit / ZHat -- a new atom is drawn conditionally on its family's earlier atoms (family.py);
* ZDot         -- Stein's lemma on the opposite family (family.py), no derivatives, so
  relu/step/abs are fine;
* ZNonlin      -- φ applied particle by particle (algebra.py);
* ZMoment      -- the particle average, once integrability.py has checked that it exists.

Vectors are freed after their last use (plan.py), so memory is the live set times the particle
count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sympy as sp

from ..errors import ProgramError
from ..ir import InitScalar, InitVector, MatMul, Moment, Node, Nonlin, ScalarOp
from ..zrules import ZCalculus
from .algebra import evaluate
from .family import NumericFamily
from .integrability import Integrability
from .particles import ParticleSet
from .plan import Plan

Progress = Callable[[str], None]


def run_pass(plan: Plan, particles: ParticleSet, progress: Progress | None = None,
             warnings: dict[str, str] | None = None) -> dict[str, float]:  # fmt: skip
    """Runs the program once on ``particles``: every scalar's value. ``progress(node)`` is
    called before each node; ``warnings`` collects why a value is unreliable."""
    domain = ParticleDomain(plan, particles, {} if warnings is None else warnings)

    def before(i: int, node: Node) -> None:
        if progress is not None:
            progress(node.name)

    ZCalculus(plan.program, domain, before_node=before, free_after=plan.free_after,
              families_done=plan.families_done).run()  # fmt: skip
    return domain.scalars


class ParticleFamily:
    """A NumericFamily on one particle set (tensorprog.zrules.ZFamily): ``inputs`` are the y of
    its pivot atoms, the ones that brought a new innovation."""

    def __init__(self, name: str, sigma2: float, particles: ParticleSet) -> None:
        self.numeric = NumericFamily(name, sigma2)
        self.ps = particles

    @property
    def inputs(self) -> list[str]:
        return self.numeric.pivot_inputs

    def add(self, var: float, cov: Sequence[float], node: str, vector: str | None) -> np.ndarray:
        ps = self.ps
        return self.numeric.add(float(var), np.array(cov, dtype=float),
                                node if vector is None else vector,
                                ps.innovation, ps.inner, ps.length)  # fmt: skip


class ParticleDomain:
    """Z's as float arrays over the particles (and their tail probes); scalars as floats."""

    def __init__(self, plan: Plan, particles: ParticleSet, warnings: dict[str, str]) -> None:
        self.plan = plan
        self.ps = particles
        self.env: dict[str, Any] = {}  # name -> float (scalar) or (M,) array (vector)
        self.scalars: dict[str, float] = {}
        self.integrability = Integrability(plan.program, particles, warnings)

    # ---------------------------------------------------------------- ZDomain
    def constant(self, expr: sp.Expr, node: Node) -> float:
        return float(expr)

    def vector(self, name: str) -> np.ndarray:
        return self.env[name]

    def inner(self, p: np.ndarray, q: np.ndarray) -> float:
        return self.ps.inner(p, q)

    def new_family(self, name: str, matrix: str | None, transpose: bool,
                   sigma2: sp.Expr | None) -> ParticleFamily:  # fmt: skip
        return ParticleFamily(name, 1.0 if sigma2 is None else float(sigma2), self.ps)

    def stein(self, family: ParticleFamily, x: str, node: str) -> np.ndarray:
        return family.numeric.stein(self.env[x], self.ps.inner)

    def init_scalar(self, node: InitScalar) -> None:
        self._scalar(node.name, float(node.value), node)

    def init_vector(self, node: InitVector, atom: np.ndarray) -> None:
        self.env[node.name] = atom

    def nonlin(self, node: Nonlin) -> None:
        # ZNonlin: φ applied particle by particle.
        v = np.broadcast_to(evaluate(node.expr, self.env, node.name), (self.ps.length,))
        self.integrability.order[node.name] = self.integrability.singular_order(
            node.expr, node.name, self.env)
        self.env[node.name] = self._finite_vector(np.asarray(v, dtype=float), node)

    def moment(self, node: Moment) -> None:
        # ZMoment: the limit of a coordinate average is the expectation of its Z.
        v = evaluate(node.expr, self.env, node.name)
        if np.ndim(v):
            self.integrability.check_moment(node, v, self.env)
        value = self.ps.mean(v) if np.ndim(v) else float(v)
        self._scalar(node.name, value, node)

    def scalar_op(self, node: ScalarOp) -> None:
        self._scalar(node.name, float(evaluate(node.expr, self.env, node.name)), node)

    def matmul(self, node: MatMul, atom: np.ndarray, dot: list[tuple[str, float]]) -> None:
        z = None
        for y, c in dot:
            term = c * self.env[y]
            z = term if z is None else z + term
        self.env[node.name] = self._finite_vector(atom if z is None else atom + z, node)

    def free(self, name: str) -> None:
        self.env.pop(name, None)

    # ---------------------------------------------------------------- checks
    def _scalar(self, name: str, value: float, node: Node) -> None:
        if not np.isfinite(value):
            raise ProgramError(
                f"'{name}' is not finite ({value}) in the numeric limit",
                loc=node.loc,
                node=name,
                hint="an expectation diverges, or a function is undefined where the Gaussian "
                "puts mass (e.g. log or sqrt of a possibly negative quantity)",
            )
        self.scalars[name] = float(value)
        self.env[name] = np.float64(value)

    def _finite_vector(self, v: np.ndarray, node: Node) -> np.ndarray:
        if not np.all(np.isfinite(v[: self.ps.size])):
            raise ProgramError(
                f"'{node.name}' takes non-finite values on the sampled Gaussians",
                loc=node.loc,
                node=node.name,
                hint="a function is undefined or overflows where the Gaussian puts mass "
                "(e.g. log/sqrt of a possibly negative quantity, 1/x near 0, exp of a large "
                "argument)",
            )
        return v
