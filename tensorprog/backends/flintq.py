"""The fast exact backend: python-flint integer polynomials with a separate denominator.

Representation: a polynomial with rational coefficients is held as
``N / d`` with ``N`` an ``fmpz_mpoly`` (sparse, integer coefficients, in the innovations
u_0 … u_{n-1}) and ``d`` a positive integer. Sums and scalar multiples stay in C; no per-term
gcd is ever taken (fmpq arithmetic would canonicalise every coefficient), only one content gcd
after products.

Products choose their representation by shape: when both factors are big enough, they are
packed by a Kronecker substitution u_k ↦ y^{s_k} with the *tight* strides of this product
(s_k from the factors' own degrees, so exponents never carry) and multiplied as univariate
polynomials, where FLINT switches to dense Kronecker-segmented FFT multiplication of huge
coefficients; otherwise the sparse multivariate product is used.

Expectations are integer dot products with Gaussian moment weights. ``inner(p, q)`` = E[p q]
never forms p q when that is avoidable: for affine factors it is Σ_k p_k q_k d_k; otherwise,
when packing applies, it correlates the cheaper factor with the packed moment sequence
(E[u^{a+b}] = Σ over the packed index a + b) and dots the result with the other factor.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import sympy as sp
from flint import fmpq, fmpq_mpoly_ctx, fmpz, fmpz_mat, fmpz_mpoly_ctx

from .base import DFACT, PolyStats, dfact_bits, digits_of_bits
from .domains import FLINT_QQ

ONE = fmpz(1)
ZERO_Z = fmpz(0)
#: Pack products whose smaller factor has at least this many terms (below, the sparse product
#: is already fast and packing overhead would dominate).
PACK_MIN_TERMS = 12
#: Largest packed exponent (FLINT exponents up to one machine word stay fast).
PACK_MAX_BOX = 1 << 62


class QPoly:
    """``N / d``: an ``fmpz_mpoly`` numerator and a positive ``fmpz`` denominator."""

    __slots__ = ("N", "d", "R", "_aff", "_deg", "_row", "_col")

    def __init__(self, R: FlintBackend, N: Any, d: fmpz = ONE) -> None:
        self.R = R
        self.N = N
        self.d = d
        self._aff: tuple[fmpz, dict[int, fmpz]] | None = None
        self._deg: int | None = None
        self._row: Any = None  # dense 1×n fmpz_mat of the linear coefficients
        self._col: Any = None  # (scale version, n×1 fmpz_mat of coefficient × scaled pivot)

    def degree(self) -> int:
        """Total degree (cached; -1 for zero)."""
        if self._deg is None:
            self._deg = int(self.N.total_degree())
        return self._deg

    def affine(self) -> tuple[fmpz, dict[int, fmpz]]:
        """(constant, {k: coefficient of u_k}) of an affine numerator, computed once: a Z is
        paired with many others (ZHat covariances), and reading FLINT's exponent tuples costs
        O(terms × variables) each time."""
        if self._aff is None:
            const, lin = fmpz(0), {}
            for m, c in zip(self.N.monoms(), self.N.coeffs()):
                k = next((i for i, e in enumerate(m) if e), None)
                if k is None:
                    const = c
                else:
                    lin[k] = c
            self._aff = (const, lin)
        return self._aff

    # -------------------------------------------------------------- arithmetic
    def _lift(self, o: Any) -> QPoly:
        if isinstance(o, QPoly):
            return o
        return self.R.const(fmpq(o))

    def __add__(self, o: Any) -> QPoly:
        o = self._lift(o)
        if self.d == o.d:
            return QPoly(self.R, self.N + o.N, self.d)
        g = self.d.gcd(o.d)
        a, b = o.d // g, self.d // g
        return QPoly(self.R, self.N * a + o.N * b, self.d * a)

    __radd__ = __add__

    def __neg__(self) -> QPoly:
        return QPoly(self.R, -self.N, self.d)

    def __sub__(self, o: Any) -> QPoly:
        return self + (-self._lift(o))

    def __rsub__(self, o: Any) -> QPoly:
        return (-self) + o

    def __mul__(self, o: Any) -> QPoly:
        if isinstance(o, QPoly):
            return self.R.mul(self, o)
        return self.R.scale(self, fmpq(o))

    __rmul__ = __mul__

    def __pow__(self, n: int) -> QPoly:
        if not isinstance(n, int) or n < 0:
            raise ValueError("only non-negative integer powers")
        result = None
        base = self
        while n:
            if n & 1:
                result = base if result is None else self.R.mul(result, base)
            n >>= 1
            if n:
                base = self.R.mul(base, base)
        return result if result is not None else self.R.const(fmpq(1))

    def __bool__(self) -> bool:
        return not self.N.is_zero()

    def __eq__(self, o: object) -> bool:
        if not isinstance(o, QPoly):
            return NotImplemented
        return self.N * o.d == o.N * self.d

    def __hash__(self) -> int:  # pragma: no cover - polynomials are not used as keys
        raise TypeError("unhashable")

    def __len__(self) -> int:
        return len(self.N)

    def __repr__(self) -> str:
        return f"QPoly(({self.N}) / {self.d})"


class FlintBackend:
    """Exact rational polynomials on python-flint (see the module docstring).

    ``kronecker``: "auto" (pack products of factors with ≥ PACK_MIN_TERMS terms), "always", or
    "never" (always the sparse multivariate product) — the last two exist to test that both
    representations give identical results. ``guard(p, q)`` is called before every non-trivial
    product (the budget's size check).
    """

    name = "flint"
    K = FLINT_QQ
    exact = True

    def __init__(
        self,
        n: int,
        *,
        kronecker: str = "auto",
        guard: Callable[..., None] | None = None,
        dense_mb: float | None = None,
    ) -> None:
        if kronecker not in ("auto", "always", "never"):
            raise ValueError(f"kronecker must be auto/always/never, not {kronecker!r}")
        self.n = max(n, 1)
        self.ctx = fmpz_mpoly_ctx.get(("u", self.n))
        self._gens = self.ctx.gens()
        self._y_ctx = fmpz_mpoly_ctx.get(("y", 1))
        self._y = self._y_ctx.gens()[0]
        self.kronecker = kronecker
        self.guard = guard
        # A dense Kronecker product holds its whole box (zeros included) at the full coefficient
        # size, plus FFT scratch; beyond this many MB the sparse heap product is used instead.
        self.dense_mb = dense_mb
        self.pivots: dict[int, fmpq] = {}
        # Pivots over one common denominator D: d_k = _s[k] / D (for dense affine inner
        # products); _version changes whenever D does.
        self._D = ONE
        self._s = [fmpz(0)] * self.n
        self._version = 0
        self._tables: dict[tuple[int, int], list[fmpz]] = {}
        self.counts = {"packed": 0, "sparse": 0, "correlations": 0}

    @property
    def representation(self) -> str:
        return {"auto": "flint-kronecker/sparse", "always": "flint-kronecker",
                "never": "flint-sparse"}[self.kronecker]

    # -------------------------------------------------------------- construction
    @property
    def zero(self) -> QPoly:
        return QPoly(self, self.ctx.from_dict({}))

    def const(self, c: fmpq) -> QPoly:
        c = fmpq(c)
        return QPoly(self, self.ctx.constant(c.p), c.q)

    def gen(self, k: int) -> QPoly:
        return QPoly(self, self._gens[k])

    def linear(self, coefs: dict[int, fmpq]) -> QPoly:
        if not coefs:
            return self.zero
        den = ONE
        for c in coefs.values():
            den = den.lcm(c.q)
        # Pairwise sums of c_k u_k: FLINT parses an n-variable exponent tuple per term in
        # from_dict, O(n) each; adding monomials is ~7x faster for long forms.
        parts = [self._gens[k] * (c.p * (den // c.q)) for k, c in coefs.items()]
        while len(parts) > 1:
            parts = [parts[i] + parts[i + 1] if i + 1 < len(parts) else parts[i]
                     for i in range(0, len(parts), 2)]  # fmt: skip
        return QPoly(self, parts[0], den)

    def scale(self, p: QPoly, c: fmpq) -> QPoly:
        c = fmpq(c)
        if not c:
            return self.zero
        num, den = c.p, c.q
        g = num.gcd(p.d)
        if g != 1:
            num, pd = num // g, p.d // g
        else:
            pd = p.d
        return QPoly(self, p.N * num if num != 1 else p.N, pd * den)

    def set_pivot(self, k: int, d: fmpq) -> None:
        d = fmpq(d)
        self.pivots[k] = d
        if d.q != 1 and self._D % d.q != 0:
            self._D = self._D.lcm(d.q)
            self._version += 1
            for j, pj in self.pivots.items():
                self._s[j] = pj.p * (self._D // pj.q)
        else:
            self._s[k] = d.p * (self._D // d.q)

    # -------------------------------------------------------------- products
    def mul(self, p: QPoly, q: QPoly) -> QPoly:
        if (p.degree() <= 0) or (q.degree() <= 0):
            if (p.degree() <= 0):
                p, q = q, p
            c = q.N.coefficient(0) if len(q.N) else fmpz(0)
            return self.scale(p, fmpq(c, q.d))
        if self.guard is not None:
            self.guard(*estimate_product(p, q))
        same = p is q
        N = self._packed_product(p.N, q.N, same)
        if N is None:
            self.counts["sparse"] += 1
            N = p.N**2 if same else p.N * q.N
        return self._canon(N, p.d * q.d)

    def _strides(self, degs: list[int]) -> tuple[list[int], int] | None:
        strides, box = [], 1
        for e in degs:
            strides.append(box)
            box *= e + 1
        return (strides, box) if box < PACK_MAX_BOX else None

    def _pack(self, N: Any, strides: list[int]) -> Any:
        y = self._y
        return N.compose(*[y**s for s in strides], ctx=self._y_ctx)

    def _unpack(self, Y: Any, strides: list[int], radix: list[int]) -> Any:
        out = {}
        n = self.n
        live = [k for k in range(n) if radix[k] > 1]
        for (e,), c in zip(Y.monoms(), Y.coeffs()):
            exps = [0] * n
            for k in live:
                exps[k] = (e // strides[k]) % radix[k]
            out[tuple(exps)] = c
        return self.ctx.from_dict(out)

    def dense_ok(self, box: int, bits: int) -> bool:
        """Whether a dense product over ``box`` slots of ``bits``-bit coefficients fits."""
        return self.dense_mb is None or dense_mb(box, bits) <= self.dense_mb

    def _packed_product(self, A: Any, B: Any, same: bool) -> Any | None:
        if self.kronecker == "never":
            return None
        if self.kronecker == "auto" and min(len(A), len(B)) < PACK_MIN_TERMS:
            return None
        radix = _even_first([a + b + 1 for a, b in zip(_degs(A), _degs(B))])
        sb = self._strides([r - 1 for r in radix])
        if sb is None:
            return None
        strides, box = sb
        # FLINT multiplies a packed univariate densely when the box is at most a quarter of the
        # term pairs, else by a heap (memory of the result only).
        dense = box <= len(A) * len(B) // 4
        if dense and self.kronecker == "auto" and not self.dense_ok(box, _bits(A) + _bits(B)):
            return None
        self.counts["packed"] += 1
        Ay = self._pack(A, strides)
        Y = _mul_deflated(Ay, Ay if same else self._pack(B, strides), same and dense)
        return self._unpack(Y, strides, radix)

    def _canon(self, N: Any, d: fmpz) -> QPoly:
        """Divide out the common factor of N's content and d (keeps numbers minimal)."""
        if d != 1 and not N.is_zero():
            g = N.content().gcd(d)
            if g != 1:
                N, d = N // g, d // g
        return QPoly(self, N, d)

    # -------------------------------------------------------------- expectations
    def _table(self, k: int, top: int) -> tuple[list[fmpz], fmpz]:
        """Integer moment weights T[a] (a even, a ≤ top) of innovation k with a common
        denominator D: E[u_k^a] = T[a] / D (D = q^{top/2} for the pivot p/q)."""
        piv = self.pivots.get(k)
        if piv is None:
            raise KeyError(f"innovation u{k} has no variance")
        half = top // 2
        key = (k, half)
        hit = self._tables.get(key)
        if hit is None:
            num, den = piv.p, piv.q
            if self.guard is not None:
                # The largest weight, (top−1)!! num^{half} (or den^{half}), before any is formed.
                bits = dfact_bits(2 * half) + half * max(int(num).bit_length(),
                                                         int(den).bit_length())
                self.guard(1, bits, 0, bits)
            T = _Moments(num, den, half)
            hit = (T, den**half)
            if den == 1:
                # The table does not depend on ``top``: one growing table per innovation.
                for h in range(half + 1):
                    self._tables.pop((k, h), None)
            self._tables[key] = hit
        return hit

    def _tables_for(self, degs: list[int]) -> tuple[list[list[fmpz] | None], fmpz]:
        tabs: list[list[fmpz] | None] = []
        den = ONE
        for k, e in enumerate(degs):
            if e:
                T, D = self._table(k, e - (e % 2))
                tabs.append(T)
                den *= D
            else:
                tabs.append(None)
        return tabs, den

    def expect(self, p: QPoly) -> fmpq:
        N = p.N
        if N.is_zero():
            return fmpq(0)
        degs = _degs(N)
        tabs, den = self._tables_for(degs)
        live = [k for k, T in enumerate(tabs) if T is not None]
        if self.guard is not None and max(degs, default=0) > DFACT.TABLE:
            self._guard_weights(N, tabs, live)
        acc = fmpz(0)
        # T[0] is the common denominator's share of u_k, so exponent 0 is not free unless 1.
        unit = [k for k in live if tabs[k][0] == 1]
        scaled = [k for k in live if tabs[k][0] != 1]
        for m, c in zip(N.monoms(), N.coeffs()):
            w = c
            for k in unit:
                a = m[k]
                if a & 1:
                    break
                if a:
                    w = w * tabs[k][a]
            else:
                for k in scaled:
                    a = m[k]
                    if a & 1:
                        break
                    w = w * tabs[k][a]
                else:
                    acc += w
        return fmpq(acc, p.d * den)

    def _guard_weights(self, N: Any, tabs: list, live: list[int]) -> None:
        """Pre-flight check of the large moment weights an expectation will form: how many
        distinct high exponents, and the size of the largest (a polynomial of degree 10⁶ with
        a thousand terms needs a thousand weights of millions of digits)."""
        monoms = N.monoms()
        count, bits = 0, 0
        for k in live:
            T = tabs[k]
            exps = {m[k] for m in monoms if m[k] > DFACT.TABLE and not m[k] & 1}
            if exps:
                count += len(exps)
                nb = max(int(T.num).bit_length(), int(T.den).bit_length())
                bits = max(bits, dfact_bits(max(exps)) + T.half * nb)
        if count:
            self.guard(count, bits, 0, bits)

    def inner(self, p: QPoly, q: QPoly) -> fmpq:
        """E[p q]."""
        if p.N.is_zero() or q.N.is_zero():
            return fmpq(0)
        if (p.degree() <= 0) or (q.degree() <= 0):
            return self.expect(self.mul(p, q))
        if p.degree() <= 1 and q.degree() <= 1:
            return self._inner_affine(p, q)
        if self.kronecker != "never" and min(len(p), len(q)) >= PACK_MIN_TERMS:
            out = self._inner_correlate(p, q)
            if out is not None:
                return out
        return self.expect(self.mul(p, q))

    def _inner_affine(self, p: QPoly, q: QPoly) -> fmpq:
        """E[(p0 + Σ p_k u_k)(q0 + Σ q_k u_k)] = p0 q0 + Σ_k p_k q_k d_k."""
        p0, pl = p.affine()
        q0, ql = q.affine()
        if 8 * min(len(pl), len(ql)) >= self.n:
            # Dense enough: one C-level dot product over all innovations (a linear program
            # pairs every Z with every earlier one; the dict loop made that O(n³) in Python).
            acc = p0 * q0 * self._D + (self._dense_row(p) * self._dense_col(q))[0, 0]
            return fmpq(acc, p.d * q.d * self._D)
        if len(ql) < len(pl):
            pl, ql = ql, pl
        acc_terms = []
        lden = ONE
        pivots = self.pivots
        for k, pk in pl.items():
            qk = ql.get(k)
            if qk is None:
                continue
            piv = pivots[k]
            if piv:
                acc_terms.append((pk * qk, piv))
                if piv.q != 1:
                    lden = lden.lcm(piv.q)
        acc = p0 * q0 * lden
        for prod_, piv in acc_terms:
            acc += prod_ * piv.p * (lden // piv.q) if piv.q != 1 else prod_ * piv.p * lden
        return fmpq(acc, p.d * q.d * lden)

    def _dense_row(self, p: QPoly) -> Any:
        if p._row is None:
            v = [ZERO_Z] * self.n
            for k, c in p.affine()[1].items():
                v[k] = c
            p._row = fmpz_mat(1, self.n, v)
        return p._row

    def _dense_col(self, p: QPoly) -> Any:
        if p._col is None or p._col[0] != self._version:
            v = [ZERO_Z] * self.n
            s = self._s
            for k, c in p.affine()[1].items():
                v[k] = c * s[k]
            p._col = (self._version, fmpz_mat(self.n, 1, v))
        return p._col[1]

    def _inner_correlate(self, p: QPoly, q: QPoly) -> fmpq | None:
        """E[p q] = Σ_a p_a c_a with c_a = Σ_b q_b E[u^{a+b}], the correlation computed as one
        packed product of q with the reversed moment sequence (cheaper than p q whenever the
        moment weights are smaller than p's coefficients)."""
        # Correlate the factor with the smaller coefficients; dot with the other.
        if _bits(p.N) * len(p.N) < _bits(q.N) * len(q.N):
            p, q = q, p
        dp, dq = _degs(p.N), _degs(q.N)
        radix = _even_first([a + b + 1 for a, b in zip(dp, dq)])
        sb = self._strides([r - 1 for r in radix])
        if sb is None:
            return None
        strides, box = sb
        # M is dense over the even points of the box: worth it only when the box is small
        # compared with the p·q term pairs (as FLINT's own dense-vs-heap rule).
        n_even = 1
        for r in radix:
            n_even *= (r + 1) // 2
        if n_even > len(p.N) * len(q.N) // 4:
            return None
        tops = [r - 1 for r in radix]
        tabs, den = self._tables_for(tops)
        live = [k for k in range(self.n) if radix[k] > 1]
        # The weights multiply q's coefficients instead of p's: only a gain if they are smaller.
        bits_m = sum(max(t.bit_length() for t in tabs[k]) for k in live)
        if bits_m >= _bits(p.N) or not self.dense_ok(box, _bits(q.N) + bits_m + 64):
            return None
        Kmax = sum(s * (r - 1) for s, r in zip(strides, radix))
        # M(y) = Σ_j W(K − j) y^j over packed indices j whose decoded exponents are all even.
        mdict = {}
        for kk in _even_packed(live, strides, radix):
            w = ONE
            for k in live:
                w = w * tabs[k][(kk // strides[k]) % radix[k]]
            mdict[(Kmax - kk,)] = w
        M = self._y_ctx.from_dict(mdict)
        self.counts["correlations"] += 1
        if self.guard is not None:
            self.guard(Kmax + len(q.N), _bits(q.N) + bits_m + 64, Kmax + len(q.N))
        C = _mul_deflated(self._pack(q.N, strides), M, False)
        acc = fmpz(0)
        for m, c in zip(p.N.monoms(), p.N.coeffs()):
            # C-level lookup of the one coefficient needed (C is long; never copy it whole).
            w = C[(Kmax - sum(s * e for s, e in zip(strides, m)),)]
            if w:
                acc += c * w
        return fmpq(acc, p.d * q.d * den)

    # -------------------------------------------------------------- reading
    def terms(self, p: QPoly):
        d = fmpq(1, p.d)
        return [(m, fmpq(c) * d) for m, c in zip(p.N.monoms(), p.N.coeffs())]

    def substitute_linear(self, p: QPoly, images: dict[int, QPoly]) -> QPoly:
        """p with generator k replaced by images[k] (rational compose, for reading Z only)."""
        if not images:
            return p
        qctx = fmpq_mpoly_ctx.get(("u", self.n))
        qgens = qctx.gens()

        def as_q(v: QPoly) -> Any:
            return qctx.from_dict({m: fmpq(c, v.d) for m, c in zip(v.N.monoms(), v.N.coeffs())})

        imgs = [as_q(images[k]) if k in images else qgens[k] for k in range(self.n)]
        P = as_q(p).compose(*imgs)
        den = ONE
        for c in P.coeffs():
            den = den.lcm(c.q)
        return QPoly(self, self.ctx.from_dict(
            {m: c.p * (den // c.q) for m, c in zip(P.monoms(), P.coeffs())}), den)

    def to_sympy(self, p: QPoly) -> sp.Expr:
        us = [sp.Symbol(f"u{k}") for k in range(self.n)]
        d = int(p.d)
        out = []
        for m, c in zip(p.N.monoms(), p.N.coeffs()):
            term = sp.Rational(int(c), d)
            for k, e in enumerate(m):
                if e:
                    term *= us[k] ** e
            out.append(term)
        return sp.Add(*out)

    def stats(self, p: QPoly) -> PolyStats:
        return PolyStats(len(p.N), digits_of_bits(_bits(p.N)) + digits_of_bits(p.d.bit_length()),
                         max(int(p.N.total_degree()), 0))


def _even_first(radix: list[int]) -> list[int]:
    """Round the radix of the first packed variable up to even, so that every other stride is
    even and the packed exponent keeps that variable's parity: polynomials that are even or odd
    in it (common: φ(x) = x² makes U odd in its own innovation) then deflate y ↦ y²."""
    out = list(radix)
    for k, r in enumerate(out):
        if r > 1:
            out[k] = r + (r & 1)
            break
    return out


def _mul_deflated(A: Any, B: Any, same: bool) -> Any:
    """A·B for univariate fmpz_mpolys, multiplying the deflated polynomials when all exponents
    of both lie in residue classes modulo a common N > 1 (A = y^s q(y^N) ⇒ half the length).
    ``same``: A is B and the product is dense (squared by ``**2``)."""
    if len(A) > 1 and len(B) > 1:
        qa, (na,), ma = A.deflation_monom()
        qb, (nb,), mb = (qa, (na,), ma) if same else B.deflation_monom()
        g = math.gcd(int(na), int(nb))
        if g > 1:
            qa = qa.inflate([int(na) // g]) if na != g else qa
            qb = qa if same else (qb.inflate([int(nb) // g]) if nb != g else qb)
            prod = qa**2 if same else qa * qb
            return (ma * mb) * prod.inflate([g])
    return A**2 if same else A * B


def _degs(N: Any) -> list[int]:
    """Per-variable degrees as Python ints (0 for the zero polynomial)."""
    return [max(int(e), 0) for e in N.degrees()]


def _bits(N: Any) -> int:
    """Bit size of the largest coefficient of an fmpz_mpoly."""
    return max((c.bit_length() for c in N.coeffs()), default=0)


def _even_packed(live: list[int], strides: list[int], radix: list[int]):
    """Packed indices Σ s_k a_k over all even exponent vectors (a_k < radix_k)."""
    idx = [0]
    for k in live:
        idx = [i + a * strides[k] for i in idx for a in range(0, radix[k], 2)]
    return idx


class _Moments:
    """The integer moment weights T[a] = (a−1)!! num^{a/2} den^{half−a/2} (a even, a ≤ 2 half;
    0 for odd a) of one innovation, computed on first use: an expectation of a few high powers
    needs a few weights, not the whole table."""

    def __init__(self, num: fmpz, den: fmpz, half: int) -> None:
        self.num, self.den, self.half = num, den, half
        self._cache: dict[int, fmpz] = {}

    def __len__(self) -> int:
        return 2 * self.half + 1

    def __getitem__(self, a: int) -> fmpz:
        if a & 1 or a < 0 or a > 2 * self.half:
            return fmpz(0)
        w = self._cache.get(a)
        if w is None:
            w = DFACT(a) * self.num ** (a // 2) * self.den ** (self.half - a // 2)
            self._cache[a] = w
        return w

    def __iter__(self):
        return (self[a] for a in range(len(self)))


def estimate_product(p: QPoly, q: QPoly) -> tuple[int, int, int]:
    """(terms, coefficient bits, packed dense slots) of p·q, estimated before multiplying."""
    lp, lq = len(p.N), len(q.N)
    if lp * lq < 4096:
        return lp * lq, 0, 0
    box = 1
    for a, b in zip(_degs(p.N), _degs(q.N)):
        box *= a + b + 1
    degs = [a + b for a, b in zip(_degs(p.N), _degs(q.N))]
    total = int(p.N.total_degree()) + int(q.N.total_degree())
    terms = min(lp * lq, monomial_count(degs, total))
    bits = _bits(p.N) + _bits(q.N) + min(lp, lq).bit_length()
    # FLINT multiplies densely (the whole box at full coefficient size, plus FFT scratch) when
    # the box is small against the term pairs: ≤ 1/4 of them for a packed univariate, < 1/32 for
    # its own multivariate dispatch; otherwise by a heap, whose memory is the result's. Count
    # the dense case whenever either rule could apply (the estimate must not undershoot).
    return terms, bits, box if box <= lp * lq // 4 else 0


def monomial_count(degs: list[int], total: int) -> int:
    """Number of exponent vectors a with 0 ≤ a_k ≤ degs[k] and Σ a_k ≤ total (a bound on the
    terms of a product; far below the box for many variables)."""
    ways = [1] + [0] * total  # ways[t]: vectors so far with Σ = t
    for e in degs:
        if e == 0:
            continue
        prefix, acc = [], 0
        for w in ways:
            acc += w
            prefix.append(acc)
        ways = [prefix[t] - (prefix[t - e - 1] if t - e - 1 >= 0 else 0) for t in range(total + 1)]
    return sum(ways)


def dense_mb(box: int, bits: int) -> float:
    """MB held by a dense Kronecker product over ``box`` slots of ``bits``-bit results: the
    packed operands, the result and FFT scratch (measured: about four result-sized buffers)."""
    return 4 * box * (bits / 8 + 8) / (1 << 20)
