"""The finite-width interpreter: execute a program at width n with numpy (TP4 Setup 7.2).

Initial matrices get iid N(0, σ²/n) entries, initial vectors iid coordinates from their joint
Gaussian law, initial scalars their given values. This is what limits are checked against.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .budget import default_memory_mb
from .errors import ProgramError
from .expr import fold
from .ir import (
    InitMatrix,
    InitScalar,
    InitVector,
    MatMul,
    Moment,
    Nonlin,
    Program,
    ScalarOp,
    dispatch,
    init_covariance,
    last_use,
    node_table,
)
from .numpy_algebra import NumpyAlgebra


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
    *,
    keep: Collection[str] | None = None,
) -> dict[str, Any]:
    """One execution at width ``width``: every node's value (floats for scalars, arrays else).

    ``keep``: return only these values, and free every other array as soon as no later node
    reads it (its last use), which bounds peak memory by the live values instead of the whole
    run; None keeps every value.

    ``draws`` overrides sampling: initial-vector name -> (n,) array, matrix name -> the actual
    (n, n) matrix (entries already ~ N(0, σ²/n)). Sampling order is fixed (initial vectors, then
    matrices in program order), so a seed reproduces a run.
    """
    program.require_bound("running at finite width")
    check_size(program, width)
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        _check_seed(int(rng))
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
    # Python-float constants: a scalar division by zero raises, and the node is named below.
    alg = NumpyAlgebra(env, what="at finite width")
    run = _Run(env, alg, rng, draws, n)
    nodes = program.nodes
    dead = last_use(nodes, keep) if keep is not None else None
    for i, node in enumerate(nodes):
        try:
            # numpy's warnings would name its own files: undefined values are reported below
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                dispatch(_RULES, node, run)  # the Z-free, finite-width semantics of the node
        except (ZeroDivisionError, OverflowError, FloatingPointError, ValueError, TypeError) as e:
            what = "division by zero" if isinstance(e, ZeroDivisionError) else str(e)
            raise ProgramError(
                f"'{node.name}' cannot be evaluated at width {n}: {what}",
                loc=getattr(node, "loc", None), node=node.name,
                hint="a scalar divisor is 0 (or a value overflows) in this run",
            ) from None
        if dead is not None:
            for name in dead[i]:
                env.pop(name, None)
    return env


@dataclass
class _Run:
    """What the finite-width rules read besides the node: values so far, the numpy algebra,
    the random stream, the caller's overriding draws and the width."""

    env: dict[str, Any]
    alg: NumpyAlgebra
    rng: np.random.Generator
    draws: dict[str, np.ndarray]
    n: int


def _init_scalar(run: _Run, node: InitScalar) -> None:
    run.env[node.name] = float(node.value)


def _init_vector(run: _Run, node: InitVector) -> None:
    pass  # sampled jointly before the first node


def _init_matrix(run: _Run, node: InitMatrix) -> None:
    if node.name in run.draws:
        run.env[node.name] = np.asarray(run.draws[node.name], float)
    else:
        run.env[node.name] = run.rng.standard_normal((run.n, run.n)) * np.sqrt(
            float(node.var) / run.n
        )


def _matmul(run: _Run, node: MatMul) -> None:
    W = run.env[node.matrix]
    run.env[node.name] = (W.T if node.transpose else W) @ run.env[node.vector]


def _nonlin(run: _Run, node: Nonlin) -> None:
    v = fold(node.expr, run.alg)
    run.env[node.name] = _defined(run, node, np.broadcast_to(np.asarray(v, float), (run.n,)).copy())


def _moment(run: _Run, node: Moment) -> None:
    run.env[node.name] = float(_defined(run, node, np.mean(fold(node.expr, run.alg))))


def _scalar_op(run: _Run, node: ScalarOp) -> None:
    run.env[node.name] = float(_defined(run, node, fold(node.expr, run.alg)))


def _defined(run: _Run, node: Nonlin | Moment | ScalarOp, v: Any) -> Any:
    """``v``, unless it has a NaN made from finite operands: log or sqrt of a negative number
    has no real value (the limit engines refuse it too). NaNs from infinite operands (∞ − ∞
    after a divergent run) are left as they are."""
    bad = np.isnan(v)
    if not np.any(bad):
        return v
    operands = [run.env[s.name] for s in node.expr.free_symbols if s.name in run.env]
    if not all(np.all(np.isfinite(o)) for o in operands):
        return v
    where = f" in {int(np.sum(bad))} of {run.n} coordinates" if np.ndim(v) else ""
    raise ProgramError(
        f"'{node.name}' is undefined at width {run.n}{where}: a function has no real value "
        "there",
        loc=node.loc, node=node.name,
        hint="log or sqrt of a negative number, or a negative number to a fractional power; "
        "keep such arguments positive (e.g. log(1 + x^2))",
    )


_RULES = node_table("finite", {
    InitScalar: _init_scalar,
    InitVector: _init_vector,
    InitMatrix: _init_matrix,
    MatMul: _matmul,
    Nonlin: _nonlin,
    Moment: _moment,
    ScalarOp: _scalar_op,
})  # fmt: skip


#: Finite-width runs estimated to take longer than this are refused (``max_seconds=None``: any).
MAX_SECONDS = 3600.0


def check_size(program: Program, width: int, seeds: int = 1,
               max_seconds: float | None = MAX_SECONDS) -> None:
    """Refuse, before allocating anything, a run whose dense matrices and vectors do not fit in
    memory, or whose ``seeds`` runs would take longer than ``max_seconds`` (a rough estimate:
    sampling an n×n matrix ~2·10⁷ entries/s, a matrix-vector product ~5·10⁸ multiply-adds/s,
    elementwise work ~10⁸ entries/s on one core)."""
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise ProgramError(f"width must be a positive integer, got {width!r}")
    n = int(width)
    nodes = program.nodes
    n_mat = sum(isinstance(x, InitMatrix) for x in nodes)
    n_mm = sum(isinstance(x, MatMul) for x in nodes)
    n_vec = sum(isinstance(x, (InitVector, MatMul, Nonlin)) for x in nodes)
    mb = (n_mat * n * n + (n_vec + 4) * n) * 8 / 2**20
    limit = default_memory_mb()
    if mb > limit:
        raise ProgramError(
            f"width {n} needs ~{mb / 1024:,.1f} GiB ({n_mat} dense {n}×{n} matrices and {n_vec} "
            f"vectors of length {n}); about {limit / 1024:,.1f} GiB are available",
            hint="use a smaller width (matrices grow like width², vectors like width)",
        )
    n_scalar = sum(isinstance(x, (InitScalar, Moment, ScalarOp)) for x in nodes)
    kept_mb = seeds * (n_scalar + 1) * 8 / 2**20  # every scalar of every seed is returned
    if kept_mb > limit:
        raise ProgramError(
            f"{seeds:,} seeds keep ~{kept_mb / 1024:,.1f} GiB of scalars; about "
            f"{limit / 1024:,.1f} GiB are available", hint="use fewer seeds")
    # (however small the width, a run costs ~100 µs plus ~20 µs per node: measured 135 µs
    # for 2 nodes and 337 µs for 15)
    seconds = seeds * (n_mat * n * n / 2e7 + n_mm * n * n / 5e8 + len(nodes) * n / 1e8
                       + 1e-4 + len(nodes) * 2e-5)
    if max_seconds is not None and seconds > max_seconds:
        raise ProgramError(
            f"{seeds} run(s) at width {n} would take ~{seconds:,.0f} s (more than "
            f"{max_seconds:,.0f} s)",
            hint="use a smaller width or fewer seeds (or simulate(..., max_seconds=None))",
        )


def _check_seed(seed: int) -> None:
    if seed < 0:
        raise ProgramError(f"seeds must be non-negative integers, got {seed}",
                           hint="use --seed 0 or larger")


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
    program: Program, width: int, seeds: int | Sequence[int] = 10, *, seed: int = 0,
    max_seconds: float | None = MAX_SECONDS,
) -> Simulation:
    """Run ``program`` at ``width`` once per seed (``seeds`` = a count, starting at ``seed``, or
    an explicit list) and collect every scalar's values. Runs that would not fit in memory or
    would take longer than ``max_seconds`` (estimated up front) are refused."""
    if isinstance(seeds, int) and seeds < 1:
        raise ProgramError(f"seeds must be at least 1, got {seeds}")
    if isinstance(seeds, int):
        _check_seed(int(seed))
        check_size(program, width, seeds, max_seconds)  # before a list of seeds is made
        seed_list = list(range(seed, seed + seeds))
    else:
        seed_list = list(seeds)
    for s in seed_list:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise ProgramError(f"seeds must be integers, got {s!r}")
        _check_seed(int(s))
    check_size(program, width, len(seed_list), max_seconds)
    scalars = program.names("scalar")
    out: dict[str, list[float]] = {s: [] for s in scalars}
    for s in seed_list:
        env = run_finite(program, width, rng=s, keep=set(scalars))
        for name in scalars:
            out[name].append(env[name])
    return Simulation(program, width, seed_list, {k: np.array(v) for k, v in out.items()})
