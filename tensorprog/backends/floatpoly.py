"""Float64 polynomials for ``mode="float"``: the same Z-calculus and exact Gaussian moments,
with IEEE double coefficients, so the cost is set by the number of terms, not by digit growth.

A polynomial is a sorted array of packed monomial keys (mixed radix from the degree plan, so
exponent addition is key addition and never carries) with a float64 coefficient array.
Products are chunked outer products aggregated by key (``np.bincount`` when the key range is
small, ``np.unique`` otherwise); expectations use log-moments, so E[u^a] = (a−1)!! d^{a/2} never
overflows on its own.

Pruning (``tol``): after every product, terms whose L²(Gaussian) size |c_α|·√E[u^{2α}] is below
``tol`` times the largest one are dropped. By Cauchy–Schwarz a dropped term changes any later
expectation E[p·q] by at most its L² size times ‖q‖₂, so with the default tol = 1e-30 the dropped
mass is ~18 orders of magnitude below float64 resolution of the kept terms; ``tol=0`` keeps all.
This is what lets long horizons run: the exact coefficients of the depth-1 x² network span
hundreds of orders of magnitude, almost all of it irrelevant to any moment.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp

from ..errors import TensorProgError
from .base import DegreePlan, PolyStats, log_dfact
from .domains import FLOAT64

DEFAULT_TOL = 1e-30
_CHUNK = 1 << 22  # pairs per vectorised chunk of a product
_DENSE_KEYS = 1 << 24  # aggregate with bincount when keys are below this


class FPoly:
    """Sorted packed keys + float64 coefficients."""

    __slots__ = ("k", "c", "B")

    def __init__(self, B: FloatBackend, k: np.ndarray, c: np.ndarray) -> None:
        self.B = B
        self.k = k
        self.c = c

    def _lift(self, o: Any) -> FPoly:
        return o if isinstance(o, FPoly) else self.B.const(float(o))

    def __add__(self, o: Any) -> FPoly:
        o = self._lift(o)
        return self.B._aggregate(np.concatenate([self.k, o.k]), np.concatenate([self.c, o.c]))

    __radd__ = __add__

    def __neg__(self) -> FPoly:
        return FPoly(self.B, self.k, -self.c)

    def __sub__(self, o: Any) -> FPoly:
        return self + (-self._lift(o))

    def __rsub__(self, o: Any) -> FPoly:
        return (-self) + o

    def __mul__(self, o: Any) -> FPoly:
        if isinstance(o, FPoly):
            return self.B.mul(self, o)
        return self.B.scale(self, float(o))

    __rmul__ = __mul__

    def __pow__(self, n: int) -> FPoly:
        result = None
        base = self
        while n:
            if n & 1:
                result = base if result is None else self.B.mul(result, base)
            n >>= 1
            if n:
                base = self.B.mul(base, base)
        return result if result is not None else self.B.const(1.0)

    def __len__(self) -> int:
        return len(self.k)

    def __bool__(self) -> bool:
        return bool(len(self.k))


class FloatBackend:
    """Float64 polynomials in the innovations (see the module docstring)."""

    name = "float"
    representation = "float64-sparse"
    K = FLOAT64
    exact = False

    def __init__(
        self,
        n: int,
        plan: DegreePlan,
        *,
        tol: float | None = None,
        guard: Callable[..., None] | None = None,
    ) -> None:
        self.n = max(n, 1)
        self.tol = DEFAULT_TOL if tol is None else float(tol)
        if self.tol < 0 or self.tol >= 1:
            raise TensorProgError(f"float_tol must be in [0, 1), not {tol}")
        self.guard = guard
        if plan.var_bound is not None and len(plan.var_bound) == self.n:
            radix = [b + 1 for b in plan.var_bound]
        else:
            radix = [plan.max_total + 1] * self.n
        self.radix = radix
        self.strides: list[int] = []
        box = 1
        for r in radix:
            self.strides.append(box)
            box *= r
        self.box = box
        # Keys fit int64 in all but very wide programs; otherwise Python ints (object arrays).
        self.dtype = np.int64 if box < (1 << 62) else object
        self.log_d = np.full(self.n, -np.inf)
        self._lw: dict[int, np.ndarray] = {}
        self._lm: dict[int, np.ndarray] = {}

    # ---------------------------------------------------------------- construction
    def _poly(self, keys: list[int], coefs: list[float]) -> FPoly:
        return FPoly(self, np.array(keys, dtype=self.dtype), np.array(coefs, dtype=float))

    @property
    def zero(self) -> FPoly:
        return self._poly([], [])

    def const(self, c: float) -> FPoly:
        c = float(c)
        return self._poly([0], [c]) if c else self.zero

    def gen(self, k: int) -> FPoly:
        return self._poly([self.strides[k]], [1.0])

    def linear(self, coefs: dict[int, float]) -> FPoly:
        items = sorted((self.strides[k], float(c)) for k, c in coefs.items() if c)
        return self._poly([k for k, _ in items], [c for _, c in items])

    def scale(self, p: FPoly, c: float) -> FPoly:
        c = float(c)
        if not c:
            return self.zero
        with np.errstate(over="ignore"):
            out = p.c * c
        _check_finite(out)
        return FPoly(self, p.k, out)

    def set_pivot(self, k: int, d: float) -> None:
        self.log_d[k] = math.log(d) if d > 0 else -np.inf
        self._lw.pop(k, None)
        self._lm.pop(k, None)

    # ---------------------------------------------------------------- keys
    def _aggregate(self, keys: np.ndarray, coefs: np.ndarray) -> FPoly:
        if len(keys) == 0:
            return self.zero
        if self.dtype is np.int64:
            top = int(keys.max()) + 1
            if top <= _DENSE_KEYS and top <= 8 * len(keys) + 1024:
                acc = np.bincount(keys, weights=coefs, minlength=top)
                k = np.flatnonzero(acc)
                return FPoly(self, k.astype(np.int64), acc[k])
        u, inv = np.unique(keys, return_inverse=True)
        acc = np.bincount(inv.ravel(), weights=coefs, minlength=len(u))
        nz = acc != 0
        return FPoly(self, u[nz], acc[nz])

    def exponents(self, keys: np.ndarray) -> np.ndarray:
        """(terms × n) exponent matrix of packed keys."""
        out = np.empty((len(keys), self.n), dtype=np.int64)
        for j, (s, r) in enumerate(zip(self.strides, self.radix)):
            out[:, j] = (keys // s) % r
        return out

    def _table(self, cache: dict, k: int, top: int, log_moment: bool) -> np.ndarray:
        t = cache.get(k)
        if t is None or len(t) <= top:
            size = max(top + 1, 2 * (len(t) if t is not None else 8))
            ld = self.log_d[k]
            if log_moment:  # log E[u^a] (−inf for odd a)
                t = np.array([(log_dfact(a) + a / 2 * ld if ld > -np.inf or a == 0 else -np.inf)
                              if a % 2 == 0 else -np.inf for a in range(size)])
            else:  # log √E[u^{2a}]: the L² size of u^a
                t = np.array([0.5 * (log_dfact(2 * a) + a * ld) if ld > -np.inf or a == 0
                              else -np.inf for a in range(size)])
            cache[k] = t
        return t

    def _log_weights(self, keys: np.ndarray, log_moment: bool) -> np.ndarray:
        cache = self._lm if log_moment else self._lw
        out = np.zeros(len(keys))
        for j, (s, r) in enumerate(zip(self.strides, self.radix)):
            if r <= 1:
                continue
            a = (keys // s) % r
            if self.dtype is object:
                a = a.astype(np.int64)
            top = int(a.max()) if len(a) else 0
            if top == 0:
                continue
            out += self._table(cache, j, top, log_moment)[a]
        return out

    # ---------------------------------------------------------------- products
    def mul(self, p: FPoly, q: FPoly, prune: bool = True) -> FPoly:
        if not isinstance(q, FPoly):
            return self.scale(p, float(q))
        if len(p) == 0 or len(q) == 0:
            return self.zero
        if len(p) == 1 and p.k[0] == 0:
            return self.scale(q, float(p.c[0]))
        if len(q) == 1 and q.k[0] == 0:
            return self.scale(p, float(q.c[0]))
        if len(p) < len(q):
            p, q = q, p
        if self.guard is not None and len(p) * len(q) > 1 << 16:
            self.guard(min(len(p) * len(q), self.box), 64, 0)
        step = max(1, _CHUNK // len(q))
        parts = []
        for i in range(0, len(p), step):
            kk = (p.k[i:i + step, None] + q.k[None, :]).ravel()
            with np.errstate(over="ignore", invalid="ignore"):
                cc = (p.c[i:i + step, None] * q.c[None, :]).ravel()
            parts.append(self._aggregate(kk, cc))
        out = parts[0] if len(parts) == 1 else self._aggregate(
            np.concatenate([x.k for x in parts]), np.concatenate([x.c for x in parts]))
        _check_finite(out.c)
        return self._prune(out) if prune else out

    def _prune(self, p: FPoly) -> FPoly:
        if self.tol == 0 or len(p) < 2:
            return p
        with np.errstate(divide="ignore"):
            w = np.log(np.abs(p.c)) + self._log_weights(p.k, False)
        keep = w >= w.max() + math.log(self.tol)
        if keep.all():
            return p
        return FPoly(self, p.k[keep], p.c[keep])

    # ---------------------------------------------------------------- expectations
    def expect(self, p: FPoly) -> float:
        if len(p) == 0:
            return 0.0
        _check_finite(p.c)
        lm = self._log_weights(p.k, True)
        ok = np.isfinite(lm)
        if not ok.any():
            return 0.0
        with np.errstate(divide="ignore"):
            s = np.log(np.abs(p.c[ok])) + lm[ok]
        top = float(s.max())
        if top > 700:
            raise TensorProgError(
                f"a float64 expectation overflows (a term of size ~1e{top / math.log(10):.0f})",
                hint="the limit is beyond float64 range at this horizon; use mode='exact' or "
                "fewer steps",
            )
        return float(np.sum(np.sign(p.c[ok]) * np.exp(s)))

    def inner(self, p: FPoly, q: FPoly) -> float:
        """E[p q] as Σ_ij p_i q_j E[u^{α_i+β_j}], in chunks, without aggregating p q."""
        if len(p) == 0 or len(q) == 0:
            return 0.0
        if len(p) < len(q):
            p, q = q, p
        step = max(1, _CHUNK // len(q))
        total = 0.0
        for i in range(0, len(p), step):
            kk = (p.k[i:i + step, None] + q.k[None, :]).ravel()
            with np.errstate(over="ignore", invalid="ignore"):
                cc = (p.c[i:i + step, None] * q.c[None, :]).ravel()
            total += self.expect(FPoly(self, kk, cc))
        return total

    # ---------------------------------------------------------------- reading
    def terms(self, p: FPoly):
        return [(tuple(int(a) for a in e), float(c))
                for e, c in zip(self.exponents(p.k), p.c)]

    def substitute_linear(self, p: FPoly, images: dict[int, FPoly]) -> FPoly:
        out = self.zero
        for e, c in self.terms(p):
            term = self.const(c)
            for k, a in enumerate(e):
                if a:
                    term = self.mul(term, images.get(k, self.gen(k)) ** a, prune=False)
            out = out + term
        return out

    def to_sympy(self, p: FPoly) -> sp.Expr:
        us = [sp.Symbol(f"u{k}") for k in range(self.n)]
        out = []
        for e, c in self.terms(p):
            term = sp.Float(c, 17)
            for k, a in enumerate(e):
                if a:
                    term *= us[k] ** a
            out.append(term)
        return sp.Add(*out)

    def stats(self, p: FPoly) -> PolyStats:
        if len(p) == 0:
            return PolyStats(0, 0, 0)
        deg = int(self.exponents(p.k).sum(axis=1).max())
        return PolyStats(len(p), 0, deg)


def _check_finite(c: np.ndarray) -> None:
    """Refuse coefficients past float64 range: inf/nan terms would otherwise be pruned away and
    the limit would silently read 0."""
    if not np.isfinite(c).all():
        raise TensorProgError(
            "a float64 coefficient overflows (the limit leaves float64 range: the training "
            "diverges at this learning rate and horizon)",
            hint="use mode='exact' (exact rationals never overflow), a smaller learning rate "
            "or fewer steps",
        )
