"""Particle sets: the points at which every Z is represented, with their weights.

A particle set hands out *innovations* — independent standard Gaussian coordinates, one array of
length ``size`` each — and computes expectations as weighted sums over the particles:

* ``MonteCarlo``: iid N(0, 1) draws, equal weights (error: spread over independent batches);
* ``HermiteGrid``: the tensor-product Gauss–Hermite rule in ``dims`` coordinates (probabilists'
  Hermite weight e^{-x²/2}/√(2π)); exact for polynomials of degree ≤ 2q − 1 in each coordinate.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from ..errors import TensorProgError

#: Radii of the tail probes (see ParticleSet.add_probes).
PROBE_RADII = (10.0, 20.0)


class ParticleSet:
    """``size`` particles; ``weights`` None means equal weights 1/size.

    Arrays have ``length`` entries: the ``size`` particles, then zero-weight *tail probes*
    (``add_probes``): points at radii PROBE_RADII along a few directions of the innovation
    space. Every rule is applied to them as to the particles, but no expectation sees them;
    they tell how an integrand grows far out, where no particle is (heavy tails).
    """

    size: int
    weights: np.ndarray | None = None
    probes: np.ndarray | None = None  # (n_probes, dims) innovation coordinates

    @property
    def length(self) -> int:
        return self.size + (0 if self.probes is None else len(self.probes))

    def add_probes(self, dims: int) -> None:
        """Probe pairs (r1·d, r2·d) for d = ±e_k (k < dims) and the two diagonals."""
        if dims < 1:
            return
        dirs = [s * np.eye(dims)[k] for k in range(dims) for s in (1.0, -1.0)]
        if dims > 1:
            dirs.append(np.ones(dims) / math.sqrt(dims))
            dirs.append(np.array([(-1.0) ** k for k in range(dims)]) / math.sqrt(dims))
        self.probes = np.array([r * d for d in dirs for r in PROBE_RADII])

    def _with_probes(self, values: np.ndarray, k: int) -> np.ndarray:
        if self.probes is None:
            return values
        col = self.probes[:, k] if k < self.probes.shape[1] else np.zeros(len(self.probes))
        return np.concatenate([values, col])

    def innovation(self) -> np.ndarray:
        """A fresh standard Gaussian coordinate, independent of all earlier ones."""
        raise NotImplementedError

    # Not np.dot: vector dot products go through BLAS, which is erratic on some machines
    # (15 ms for 16k entries here); numpy's own loops are fast and, for the weighted (quadrature)
    # sums, pairwise-summed, so rounding stays far below the quadrature error floor.
    def mean(self, a: np.ndarray) -> float:
        """E[a] over the particles."""
        a = a[: self.size]
        if self.weights is None:
            return float(np.mean(a))
        return float(np.sum(self.weights * a))

    def inner(self, a: np.ndarray, b: np.ndarray) -> float:
        """E[a b] over the particles."""
        a, b = a[: self.size], b[: self.size]
        if self.weights is None:
            return float(np.einsum("i,i->", a, b)) / self.size
        t = self.weights * a
        t *= b
        return float(np.sum(t))


class MonteCarlo(ParticleSet):
    """``size`` iid particles from ``rng``."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.size = size
        self.rng = rng
        self._next = 0

    def innovation(self) -> np.ndarray:
        k = self._next
        self._next += 1
        return self._with_probes(self.rng.standard_normal(self.size), k)


class HermiteGrid(ParticleSet):
    """The tensor-product Gauss–Hermite rule with q points in each of ``dims`` coordinates,
    without the points whose weight is below ``PRUNE`` (far corners: their total weight is
    < 1e-25 for the grids used here, and polynomially growing integrands cannot make up for
    the e^{-|x|²/2} decay). Innovation k is grid coordinate k."""

    def __init__(self, q: int, dims: int) -> None:
        self.q = q
        self.dims = dims
        x, w = _rule(q)
        self.nodes = x
        self.index, self.weights = _pruned_grid(w, dims)
        self.size = len(self.weights)
        self._next = 0

    def innovation(self) -> np.ndarray:
        k = self._next
        if k >= self.dims:  # the planner counts an upper bound of innovations; never reached
            raise TensorProgError(
                f"quadrature grid has only {self.dims} coordinates but the program needs more"
            )
        self._next += 1
        return self._with_probes(self.nodes[self.index[k]], k)


#: Grid points with a smaller product weight are dropped.
PRUNE = 1e-30


def _rule(q: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (summing to 1) of the q-point rule for N(0, 1)."""
    if q == 1:
        return np.zeros(1), np.ones(1)
    x, w = hermegauss(q)
    return x, w / math.sqrt(2 * math.pi)


#: Refuse grids whose construction would hold more points than this.
MAX_GRID = 2**24


def _pruned_grid(
    w: np.ndarray, dims: int, with_index: bool = True
) -> tuple[list[np.ndarray], np.ndarray]:
    """Per-coordinate node indices and product weights of the kept grid points. Pruning as the
    product is built is exact: later factors are ≤ 1, so a dropped partial product stays small."""
    weights = np.ones(1)
    index: list[np.ndarray] = []
    q = len(w)
    for _ in range(dims):
        if len(weights) * q > MAX_GRID:
            raise TensorProgError(
                f"a Gauss–Hermite grid with {q} points in each of {dims} coordinates is too "
                f"large (over {MAX_GRID:,} points)",
                hint="lower quadrature_points, or use method='mc'",
            )
        full = (weights[:, None] * w[None, :]).ravel()
        keep = np.flatnonzero(full >= PRUNE)
        if with_index:
            rows, cols = np.divmod(keep, q)
            index = [i[rows] for i in index] + [cols.astype(np.int32)]
        weights = full[keep]
    return index, weights


@functools.lru_cache(maxsize=256)
def grid_size(q: int, dims: int) -> int:
    """The number of kept points of ``HermiteGrid(q, dims)``."""
    return len(_pruned_grid(_rule(q)[1], dims, with_index=False)[1])
