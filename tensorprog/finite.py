"""The finite-width interpreter: execute a program at width n with numpy (TP4 Setup 7.2).

Initial matrices get iid N(0, σ²/n) entries, initial vectors iid coordinates from their joint
Gaussian law, initial scalars their given values. This is what limits are checked against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from .errors import ProgramError
from .expr import Algebra, fold
from .functions import FUNCTIONS
from .ir import (
    InitMatrix,
    InitScalar,
    InitVector,
    MatMul,
    Moment,
    Nonlin,
    Program,
    ScalarOp,
    init_covariance,
)


class _NumpyAlgebra(Algebra):
    def __init__(self, env: dict[str, Any]) -> None:
        self.env = env

    def symbol(self, s: sp.Symbol) -> Any:
        return self.env[s.name]

    def constant(self, c: sp.Expr) -> Any:
        return float(c)

    def power(self, base: Any, exponent: sp.Expr, node: sp.Expr) -> Any:
        if exponent.is_Integer:
            e = int(exponent)
            if e >= 0:
                return base**e
            return 1.0 / base ** (-e)
        return np.power(base, float(exponent))

    def function(self, name: str, args: list[Any], node: sp.Expr) -> Any:
        return FUNCTIONS[name].numpy(*args)

    def other(self, node: sp.Expr, args: list[Any]) -> Any:
        if isinstance(node, sp.Max):
            return np.maximum.reduce(np.broadcast_arrays(*args))
        if isinstance(node, sp.Min):
            return np.minimum.reduce(np.broadcast_arrays(*args))
        raise ProgramError(f"cannot evaluate {node.func.__name__} at finite width")


def _init_factor(program: Program) -> tuple[list[str], np.ndarray]:
    """A matrix A with A Aᵀ = covariance of the initial vectors (PSD, possibly singular)."""
    names, C = init_covariance(program)
    if not names:
        return names, np.zeros((0, 0))
    Cf = np.array(C.evalf(), dtype=float)
    w, V = np.linalg.eigh(Cf)
    return names, V * np.sqrt(np.clip(w, 0.0, None))


def run_finite(
    program: Program,
    width: int,
    rng: np.random.Generator | int | None = None,
    draws: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """One execution at width ``width``: every node's value (floats for scalars, arrays else).

    ``draws`` overrides sampling: initial-vector name -> (n,) array, matrix name -> the actual
    (n, n) matrix (entries already ~ N(0, σ²/n)). Sampling order is fixed (initial vectors, then
    matrices in program order), so a seed reproduces a run.
    """
    program.require_bound("running at finite width")
    if width < 1:
        raise ProgramError(f"width must be positive, got {width}")
    rng = np.random.default_rng(rng)
    draws = draws or {}
    n = width
    env: dict[str, Any] = {}
    names, A = _init_factor(program)
    if names:
        g = rng.standard_normal((len(names), n))
        sampled = A @ g
        for i, name in enumerate(names):
            env[name] = np.asarray(draws[name], float) if name in draws else sampled[i]
    alg = _NumpyAlgebra(env)
    for node in program.nodes:
        if isinstance(node, InitScalar):
            env[node.name] = float(node.value)
        elif isinstance(node, InitVector):
            pass  # sampled above
        elif isinstance(node, InitMatrix):
            if node.name in draws:
                env[node.name] = np.asarray(draws[node.name], float)
            else:
                env[node.name] = rng.standard_normal((n, n)) * np.sqrt(float(node.var) / n)
        elif isinstance(node, MatMul):
            W = env[node.matrix]
            env[node.name] = (W.T if node.transpose else W) @ env[node.vector]
        elif isinstance(node, Nonlin):
            v = fold(node.expr, alg)
            env[node.name] = np.broadcast_to(np.asarray(v, float), (n,)).copy()
        elif isinstance(node, Moment):
            env[node.name] = float(np.mean(fold(node.expr, alg)))
        elif isinstance(node, ScalarOp):
            env[node.name] = float(fold(node.expr, alg))
    return env


@dataclass
class Simulation:
    """Finite-width values of every scalar, one per seed."""

    program: Program
    width: int
    seeds: list[int]
    values: dict[str, np.ndarray] = field(default_factory=dict)

    def mean(self, name: str) -> float:
        return float(np.mean(self.values[name]))

    def stderr(self, name: str) -> float:
        v = self.values[name]
        return float(np.std(v, ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "program": self.program.name,
            "width": self.width,
            "seeds": self.seeds,
            "outputs": {
                n: {"mean": self.mean(n), "stderr": self.stderr(n)}
                for n in self.program.outputs
                if n in self.values
            },
        }


def simulate(
    program: Program, width: int, seeds: int | Sequence[int] = 10, *, seed: int = 0
) -> Simulation:
    """Run ``program`` at ``width`` once per seed (``seeds`` = a count, starting at ``seed``, or
    an explicit list) and collect every scalar's values."""
    seed_list = list(range(seed, seed + seeds)) if isinstance(seeds, int) else list(seeds)
    scalars = program.names("scalar")
    out: dict[str, list[float]] = {s: [] for s in scalars}
    for s in seed_list:
        env = run_finite(program, width, rng=s)
        for name in scalars:
            out[name].append(env[name])
    return Simulation(program, width, seed_list, {k: np.array(v) for k, v in out.items()})
