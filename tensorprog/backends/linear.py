"""The linear fast path (``mode="float"``): every Z affine in the atoms.

When the degree plan shows that every vector's Z is affine in the Gaussian atoms (φ = identity,
linear networks, kernels of linear layers), the limit is Gaussian linear algebra:

* a Z is a vector ``z`` of innovation coefficients plus a constant ``z[0]``;
* Cov(Z^x, Z^y) = Σ_k x_k y_k d_k, one dot product (ZHat covariances, Stein's b_j, Moments);
* each family is a dense unit-lower-triangular LDLᵀ grown by one triangular solve per atom
  (zero pivots, i.e. linearly dependent atoms, drop out), and Stein's G c = b is two more solves;
* a Moment of a higher-degree polynomial in affine Z's uses Gaussian integration by parts,
  E[(μ₁ + L₁) R] = μ₁ E[R] + Σ_j Cov(L₁, L_j) E[∂R/∂L_j], on the factors involved.

Everything is numpy float64, so the cost is polynomial in the number of atoms (measured exponents
in docs/performance.md). Exact linear programs use the flint backend, whose products of affine
forms already take the same dot-product route (FlintBackend._inner_affine).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp

from ..errors import TensorProgError
from .base import PolyStats, log_dfact
from .domains import FLOAT64

_TOL = 1e-11  # relative size under which a pivot or residual counts as zero (as GaussianFamily)


class Aff:
    """An affine form ``v[0] + Σ_k v[k+1] u_k`` (numpy float64)."""

    __slots__ = ("v", "B", "_cv", "_top")

    def __init__(self, B: LinearBackend, v: np.ndarray) -> None:
        self.B = B
        self.v = v
        self._cv = None
        self._top: int | None = None

    def top(self) -> int:
        """Index of the last atom with a nonzero coefficient (−1 if constant)."""
        if self._top is None:
            nz = np.flatnonzero(self.v[1:])
            self._top = int(nz[-1]) if len(nz) else -1
        return self._top

    def __add__(self, o: Any) -> Any:
        if isinstance(o, Aff):
            return Aff(self.B, self.v + o.v)
        if isinstance(o, Prod):
            return o + self
        w = self.v.copy()
        w[0] += float(o)
        return Aff(self.B, w)

    __radd__ = __add__

    def __neg__(self) -> Aff:
        return Aff(self.B, -self.v)

    def __sub__(self, o: Any) -> Any:
        return self + (-o)

    def __rsub__(self, o: Any) -> Any:
        return (-self) + o

    def __mul__(self, o: Any) -> Any:
        return self.B.mul(self, o)

    __rmul__ = __mul__

    def __pow__(self, n: int) -> Any:
        out: Any = self.B.const(1.0)
        for _ in range(n):
            out = self.B.mul(out, self)
        return out

    def is_constant(self) -> bool:
        return not np.any(self.v[1:])


class Prod:
    """A polynomial in affine forms (only inside Moment integrands of degree > 2):
    a list of (coefficient, factors)."""

    __slots__ = ("terms", "B")

    def __init__(self, B: LinearBackend, terms: list[tuple[float, tuple[Aff, ...]]]) -> None:
        self.B = B
        self.terms = terms

    def _lift(self, o: Any) -> Prod:
        if isinstance(o, Prod):
            return o
        if isinstance(o, Aff):
            return Prod(self.B, [(1.0, (o,))])
        return Prod(self.B, [(float(o), ())])

    def __add__(self, o: Any) -> Prod:
        return Prod(self.B, self.terms + self._lift(o).terms)

    __radd__ = __add__

    def __neg__(self) -> Prod:
        return Prod(self.B, [(-c, f) for c, f in self.terms])

    def __sub__(self, o: Any) -> Prod:
        return self + (-self._lift(o))

    def __rsub__(self, o: Any) -> Prod:
        return (-self) + o

    def __mul__(self, o: Any) -> Prod:
        o = self._lift(o)
        return Prod(self.B, [(a * b, f + g) for a, f in self.terms for b, g in o.terms])

    __rmul__ = __mul__

    def __pow__(self, n: int) -> Prod:
        out = Prod(self.B, [(1.0, ())])
        for _ in range(n):
            out = out * self
        return out


class AtomFamily:
    """A Gaussian family for the linear path: the atoms themselves are the generators, so adding
    an atom only records its covariances (in the backend's covariance matrix). An LDLᵀ is
    computed on demand for reporting only (``d``, ``linear_form``: innovations in
    Limit.Z_innovations); the algebra never divides by a small pivot."""

    def __init__(self, name: str, B: LinearBackend) -> None:
        self.name = name
        self.B = B
        self.K = FLOAT64
        self.members: list[int] = []
        self.cov = _CovView(B)
        self._ldl: tuple[dict[int, float], dict[int, dict[int, float]]] | None = None

    def add(self, index: int, var: float, cov_with: dict[int, float]) -> None:
        if var < -_TOL * max(abs(var), 1e-300):
            raise ArithmeticError(f"family {self.name}: a variance is negative")
        C = self.B.C
        C[index, index] = var
        for j, c in cov_with.items():
            C[index, j] = C[j, index] = c
        self.members.append(index)
        self._ldl = None

    def _factor(self) -> tuple[dict[int, float], dict[int, dict[int, float]]]:
        if self._ldl is None:
            idx = self.members
            G = self.B.C[np.ix_(idx, idx)]
            m = len(idx)
            L, d = np.eye(m), np.zeros(m)
            for i in range(m):
                r = G[i, :i] - L[:i, :i] @ (d[:i] * L[i, :i]) if i else np.zeros(0)
                live = d[:i] > 0
                L[i, :i] = np.where(live, r / np.where(live, d[:i], 1.0), 0.0)
                piv = G[i, i] - float(np.dot(L[i, :i] ** 2, d[:i]))
                d[i] = piv if piv > _TOL * max(abs(G[i, i]), 1e-300) else 0.0
            dd = {idx[i]: float(d[i]) for i in range(m)}
            rows = {idx[i]: {idx[j]: float(L[i, j]) for j in range(i + 1)
                             if L[i, j] and d[j] > 0} for i in range(m)}
            self._ldl = (dd, rows)
        return self._ldl

    @property
    def d(self) -> dict[int, float]:
        return self._factor()[0]

    def linear_form(self, index: int) -> dict[int, float]:
        """Atom ``index`` in innovations (reporting only; see the class docstring)."""
        return self._factor()[1][index]


class _CovView:
    def __init__(self, B: LinearBackend) -> None:
        self.B = B

    def __getitem__(self, key: tuple[int, int]) -> float:
        return float(self.B.C[key])


class LinearBackend:
    """Affine forms over the atoms, float64 (see the module docstring)."""

    name = "linear"
    representation = "linear-float64"
    K = FLOAT64
    exact = False
    #: generators are the atoms (correlated within a family, covariance ``C``), not innovations
    atom_basis = True

    def __init__(self, n: int) -> None:
        self.n = max(n, 1)
        self.C = np.zeros((self.n, self.n))
        self.n_atoms = 0

    # ---------------------------------------------------------------- construction
    @property
    def zero(self) -> Aff:
        return Aff(self, np.zeros(self.n + 1))

    def const(self, c: float) -> Aff:
        v = np.zeros(self.n + 1)
        v[0] = c
        return Aff(self, v)

    def gen(self, k: int) -> Aff:
        v = np.zeros(self.n + 1)
        v[k + 1] = 1.0
        self.n_atoms = max(self.n_atoms, k + 1)
        return Aff(self, v)

    def linear(self, coefs: dict[int, float]) -> Aff:
        v = np.zeros(self.n + 1)
        for k, c in coefs.items():
            v[k + 1] = c
        return Aff(self, v)

    def new_family(self, name: str) -> AtomFamily:
        return AtomFamily(name, self)

    def scale(self, p: Any, c: float) -> Any:
        if isinstance(p, Aff):
            return Aff(self, p.v * c)
        return Prod(self, [(a * c, f) for a, f in p.terms])

    def set_pivot(self, k: int, d: float) -> None:
        """Unused: the algebra works in atom coordinates."""

    def mul(self, p: Any, q: Any) -> Any:
        if not isinstance(q, (Aff, Prod)):
            return self.scale(p, float(q))
        if isinstance(p, Aff) and p.is_constant():
            return self.scale(q, float(p.v[0]))
        if isinstance(q, Aff) and q.is_constant():
            return self.scale(p, float(q.v[0]))
        return Prod(self, [(1.0, (p,))] if isinstance(p, Aff) else p.terms) * q

    # ---------------------------------------------------------------- ZDot
    def atom_coefficients(self, members: list[int], z: Aff) -> dict[int, float]:
        """ZDot coefficients E[∂Z/∂Ẑ_j] of an affine Z: its coefficients on the atoms j (TP4
        Eq. 31 with Φ linear; any Φ gives the same Ż, so no solve and no small pivots)."""
        return {j: float(z.v[j + 1]) for j in members}

    # ---------------------------------------------------------------- expectations
    def _cov(self, p: Aff, q: Aff) -> float:
        """Cov = a_pᵀ C a_q. C·a is cached per form together with the number N of atoms that
        existed then: entries among existing atoms never change, so the cache serves any form
        whose atoms are all below N (every older form)."""
        tp, tq = p.top(), q.top()
        for a, tb in ((p, tq), (q, tp)):
            hit = a._cv
            if hit is not None and tb < hit[0]:
                return float(np.dot((q if a is p else p).v[1:], hit[1]))
        a, b = (p, q) if tp >= tq else (q, p)
        # C is symmetric, so C·a = Σ_{i ≤ top} a_i C[i, :]: only the form's support rows, and
        # through einsum's own loop rather than BLAS gemv, which OpenBLAS multithreads from
        # ~100×100 on: on a loaded 2-core machine that thread hand-off costs ~50× the product.
        k = a.top() + 1
        cv = np.einsum("i,ij->j", a.v[1 : k + 1], self.C[:k])
        a._cv = (self.n_atoms, cv)
        return float(np.dot(b.v[1:], cv))

    def inner(self, p: Any, q: Any) -> float:
        if isinstance(p, Aff) and isinstance(q, Aff):
            return float(p.v[0] * q.v[0]) + self._cov(p, q)
        return self.expect(self.mul(p, q))

    def expect(self, p: Any) -> float:
        if isinstance(p, Aff):
            return float(p.v[0])
        return self._expect_prod(p)

    def _expect_prod(self, p: Prod) -> float:
        """E of a polynomial in affine forms: the distinct forms L_i = μ_i + (zero-mean part) are
        jointly Gaussian with covariance S (k × k, from C); with S = V Λ Vᵀ they are
        μ_i + Σ_j V_ij g_j for independent g_j ~ N(0, λ_j), and each term is expanded in the g's
        and integrated with E[g^a] = (a − 1)!! λ^{a/2} (small: k is the number of distinct
        vectors in one Moment)."""
        forms: list[Aff] = []
        index: dict[int, int] = {}
        for _, factors in p.terms:
            for f in factors:
                if id(f) not in index:
                    index[id(f)] = len(forms)
                    forms.append(f)
        k = len(forms)
        S = np.array([[self._cov(a, b) for b in forms] for a in forms]) if k else np.zeros((0, 0))
        lam, V = np.linalg.eigh(S) if k else (np.zeros(0), np.zeros((0, 0)))
        keep = lam > _TOL * max(float(lam.max()) if k else 0.0, 1e-300)
        lam, V = lam[keep], V[:, keep]
        r = len(lam)
        total = 0.0
        for coef, factors in p.terms:
            poly: dict[tuple[int, ...], float] = {(0,) * r: coef}
            for f in factors:
                i = index[id(f)]
                mu, row = float(f.v[0]), V[i]
                nxt: dict[tuple[int, ...], float] = {}
                for e, c in poly.items():
                    if mu:
                        nxt[e] = nxt.get(e, 0.0) + c * mu
                    for j in range(r):
                        if row[j]:
                            e2 = e[:j] + (e[j] + 1,) + e[j + 1:]
                            nxt[e2] = nxt.get(e2, 0.0) + c * row[j]
                poly = nxt
            for e, c in poly.items():
                if any(a % 2 for a in e):
                    continue
                log_m = sum(log_dfact(a) + a / 2 * math.log(lj) for a, lj in zip(e, lam) if a)
                if log_m > 700:
                    raise TensorProgError(
                        f"a float64 expectation overflows (a term of size ~1e{log_m / 2.3026:.0f})",
                        hint="the limit is beyond float64 range; use mode='exact'",
                    )
                total += c * math.exp(log_m)
        return total

    # ---------------------------------------------------------------- reading
    def terms(self, p: Any):  # pragma: no cover - the linear path always uses innovations
        raise NotImplementedError("the linear backend has no Isserlis route")

    def substitute_linear(self, p: Aff, images: dict[int, Aff]) -> Aff:
        """Atoms replaced by their (reporting) innovation forms: Z in innovations."""
        v = np.zeros(self.n + 1)
        v[0] = p.v[0]
        for k, c in enumerate(p.v[1:]):
            if c:
                v += c * (images[k].v if k in images else self.gen(k).v)
        return Aff(self, v)

    def to_sympy(self, p: Any) -> sp.Expr:
        if not isinstance(p, Aff):
            raise NotImplementedError("only affine Z's are shown")
        out = [sp.Float(p.v[0], 17)] if p.v[0] else []
        out += [sp.Float(c, 17) * sp.Symbol(f"u{k}") for k, c in enumerate(p.v[1:]) if c]
        return sp.Add(*out)

    def stats(self, p: Any) -> PolyStats:
        if isinstance(p, Aff):
            return PolyStats(int(np.count_nonzero(p.v)), 0, 0 if p.is_constant() else 1)
        return PolyStats(len(p.terms), 0, max((len(f) for _, f in p.terms), default=0))
