"""derive_numeric: choose a method, run the numeric passes, attach error estimates."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import TensorProgError
from ..ir import Program
from .domain import run_pass
from .particles import HermiteGrid, MonteCarlo, grid_size
from .plan import Plan, make_plan
from .result import NumericLimit

METHODS = ("auto", "mc", "quadrature")
#: Auto uses quadrature up to this many innovations, with at most GRID_BUDGET grid points.
QUAD_MAX_DIMS = 4
GRID_BUDGET = 2**20
MAX_POINTS = 128  # default cap per coordinate
MAX_RULE = 256  # numpy's hermegauss is accurate to 300 points and returns NaN at 400
DEFAULTS: dict[str, Any] = {
    "method": "auto",
    "seed": 0,
    "particles": 2**18,
    "batches": 16,
    "quadrature_points": None,
    "target_error": None,
    "max_particles": 2**24,
}
#: Relative rounding floor added to quadrature error estimates (sums of up to 2^20 terms).
ROUNDING = 1e-12
NONSMOOTH_FACTOR = 4.0

Progress = Callable[[int, int, str], None]


def derive_numeric(
    program: Program, progress: Progress | None = None, **options: Any
) -> NumericLimit:
    """The infinite-width limit of every scalar of ``program``, numerically, with error bars.

    Same Z rules as exact mode (TP4 Def. 7.3), with expectations over particles: each Z is its
    values on a set of Gaussian particles; new Ẑ atoms are drawn conditionally on their family;
    ZDot uses Stein's lemma (no derivatives, so relu/step/abs are fine).

    Options:

    * ``method``: ``"quadrature"`` — tensor-product Gauss–Hermite in the independent innovations
      (deterministic; error = |I_q − I_⌈q/2⌉| + rounding floor); ``"mc"`` — Monte Carlo in
      ``batches`` independent batches (error = standard error of the batch means, which covers
      how sampling errors propagate through later scalars); ``"auto"`` (default) — quadrature
      when there are at most 4 innovations and every function of a vector is analytic
      (polynomials, exp, tanh, sigmoid, erf, gelu, silu, sin, cos), else mc.
    * ``seed`` (int, default 0): mc results are a deterministic function of the seed.
    * ``particles`` (default 2^18): total mc particles, split evenly over ``batches`` (default 16).
    * ``quadrature_points``: q per coordinate, at most 256 (default: the largest q ≤ 128 whose
      grid, corners of weight < 1e-30 dropped, has at most 2^20 points).
    * ``target_error``: mc only — after the first batches, add batches of the same size until
      every output's standard error is about this (the number needed is projected from the
      first batches' errors; capped by ``max_particles``, default 2^24).

    Each mc batch of m particles has an O(1/m) bias (covariances are estimated on the particles
    they are applied to); keep m = particles/batches ≥ 10⁴ (docs/numeric.md).

    ``progress(done, total, node)`` is called before each node of each pass, and with
    ``(1, 1, "")`` when done.
    """
    opts = _read_options(options)
    opts["_warnings"] = warnings = {}
    program.require_bound()
    program.validate()
    start = time.perf_counter()
    plan = make_plan(program)
    method = opts["method"]
    if method == "auto":
        method = "quadrature" if plan.dims <= QUAD_MAX_DIMS and plan.smooth else "mc"
    if method == "quadrature":
        values, errors, per, used = _quadrature(plan, opts, progress)
    else:
        values, errors, per, used = _monte_carlo(plan, opts, progress)
    if progress is not None:
        progress(1, 1, "")
    return NumericLimit(
        program, method, values, errors, per, used, time.perf_counter() - start, warnings
    )


def _quadrature(plan: Plan, opts: dict[str, Any], progress: Progress | None):
    dims = plan.dims
    q = opts["quadrature_points"] or _default_points(dims)
    qc = (q + 1) // 2
    counter = _Counter(progress, len(plan.program.nodes) * 2)
    warn = opts["_warnings"]
    coarse = run_pass(plan, _probed(HermiteGrid(qc, dims), dims), counter, warn)
    grid = HermiteGrid(q, dims)
    fine = run_pass(plan, _probed(grid, dims), counter, warn)
    values = dict(fine)
    # If the error of I_q decays like q^{-p}, then err(I_q) = |I_q − I_q/2| / (2^p − 1). Analytic
    # integrands converge geometrically (factor 1 is generous); kinks (relu, abs) give p ≈ 1 and
    # jumps (step) p ≈ 1/2 (measured: 0.55), so non-smooth programs get the factor 4 (p ≥ 1/3).
    factor = 1.0 if plan.smooth else NONSMOOTH_FACTOR
    errors = {
        k: factor * abs(fine[k] - coarse[k]) + ROUNDING * max(1.0, abs(fine[k])) for k in fine
    }
    per = {k: np.array([coarse[k], fine[k]]) for k in fine}
    used = {"quadrature_points": q, "coarse_points": qc, "dims": dims, "grid_points": grid.size}
    return values, errors, per, used


@functools.lru_cache(maxsize=64)
def _default_points(dims: int) -> int:
    """The largest q ≤ MAX_POINTS whose pruned grid has at most GRID_BUDGET points."""
    if dims == 0:
        return 1
    q = max(2, min(MAX_POINTS, int(math.floor(GRID_BUDGET ** (1.0 / dims) + 1e-9))))
    while q < MAX_POINTS and grid_size(min(MAX_POINTS, q + 4), dims) <= GRID_BUDGET:
        q = min(MAX_POINTS, q + 4)
    return q


def _monte_carlo(plan: Plan, opts: dict[str, Any], progress: Progress | None):
    R = opts["batches"]
    m = -(-opts["particles"] // R)
    seeds = np.random.SeedSequence(opts["seed"])
    counter = _Counter(progress, len(plan.program.nodes) * R)

    def batch(child: np.random.SeedSequence) -> dict[str, float]:
        ps = _probed(MonteCarlo(m, np.random.default_rng(child)), plan.dims)
        return run_pass(plan, ps, counter, opts["_warnings"])

    runs = [batch(c) for c in seeds.spawn(R)]
    target = opts["target_error"]
    if target is not None:
        watch = [n for n in plan.program.outputs if n in runs[0]] or list(runs[0])
        need = max(
            (_stderr([r[n] for r in runs]) / target) ** 2 * len(runs) for n in watch
        ) if watch else 0.0
        cap = max(R, opts["max_particles"] // m)
        extra = min(cap, math.ceil(need * 1.1)) - len(runs)
        if extra > 0:
            counter.total += len(plan.program.nodes) * extra
            runs += [batch(c) for c in seeds.spawn(extra)]
    names = list(runs[0])
    per = {k: np.array([r[k] for r in runs]) for k in names}
    values = {k: float(np.mean(v)) for k, v in per.items()}
    errors = {k: _stderr(v) for k, v in per.items()}
    used = {"seed": opts["seed"], "batches": len(runs), "particles_per_batch": m,
            "particles": m * len(runs), "dims": plan.dims}
    return values, errors, per, used


def _probed(ps, dims: int):
    """``ps`` with tail probes (heavy-tail detection, integrability.py)."""
    ps.add_probes(dims)
    return ps


def _stderr(values) -> float:
    v = np.asarray(values, dtype=float)
    if np.all(v == v[0]):
        return 0.0
    return float(np.std(v, ddof=1) / math.sqrt(len(v)))


class _Counter:
    """Adapts the per-node callback of a pass to progress(done, total, node)."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0

    def __call__(self, name: str) -> None:
        if self.progress is not None:
            self.progress(self.done, self.total, name)
        self.done += 1


def _read_options(options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise TensorProgError(
            f"unknown option(s) {unknown} for the numeric limit",
            hint=f"numeric options: {', '.join(DEFAULTS)}",
        )
    opts = {**DEFAULTS, **options}
    if opts["method"] not in METHODS:
        raise TensorProgError(
            f"unknown numeric method '{opts['method']}'", hint=f"one of {', '.join(METHODS)}"
        )
    _int(opts, "seed", 0)
    _int(opts, "particles", 2)
    _int(opts, "batches", 2)
    _int(opts, "max_particles", 2)
    if opts["quadrature_points"] is not None:
        _int(opts, "quadrature_points", 2)  # q and ⌈q/2⌉ must differ
        if opts["quadrature_points"] > MAX_RULE:
            raise TensorProgError(
                f"quadrature_points={opts['quadrature_points']} is too large (at most "
                f"{MAX_RULE}: numpy's Gauss–Hermite weights underflow beyond ~300)",
                hint="use fewer points, or method='mc'",
            )
    t = opts["target_error"]
    if t is not None:
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (t > 0) or \
                not math.isfinite(t):
            raise TensorProgError(f"target_error must be a positive number, got {t!r}")
        opts["target_error"] = float(t)
    if opts["particles"] < 2 * opts["batches"]:
        raise TensorProgError(
            f"particles={opts['particles']} is too few for batches={opts['batches']}",
            hint="use at least 2 particles per batch (many more for useful accuracy)",
        )
    return opts


def _int(opts: dict[str, Any], key: str, lo: int) -> None:
    v = opts[key]
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise TensorProgError(f"option {key} must be an integer >= {lo}, got {v!r}")
    opts[key] = int(v)
