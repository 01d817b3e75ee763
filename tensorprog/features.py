"""Feature-learning diagnostics in the infinite-width limit (Chen et al., arXiv:2503.09565, §1,
Table 1, Figs. 1–2, Theorem 4.5; TP4 Definition 3.5, Theorems 3.6 and 3.8).

For a trained limit and probe inputs ξ_1..ξ_k, per hidden layer l (features z = h^l or x^l):

* feature change    E[(Z^{z_T(ξ)} − Z^{z_0(ξ)})²] / E[(Z^{z_0(ξ)})²]
  (Chen et al. Fig. 1 left, squared);
* feature Gram      K_ij = E[Z^{z(ξ_i)} Z^{z(ξ_j)}] at initialization and after training, and its
  minimum eigenvalue (Chen et al. Fig. 1 right; > 0 iff the Z's are linearly independent,
  Thm 4.5);
* joint Gram        over the 2k features (z_0(ξ_1..k), z_T(ξ_1..k)) (Chen et al. Fig. 2).

How each parametrization's limit is obtained (docs/regimes.md has the reasoning):

* μP: the MLP program of :mod:`tensorprog.builders.mlp` with probe forward passes, derived
  exactly by :func:`tensorprog.zcalc.derive_limit` (polynomial φ).
* IP (Chen et al. Table 2; L ≥ 2): μP except Var W^l = n^{-2} for hidden l, i.e. μP with hidden init
  multiplier n^{-1/2} → 0. In the program W^l_0 x enters linearly (TP4 Eq. (24)), scaled by that
  multiplier, so the limit is the μP program with hidden init variance 0 — computed exactly.
* kernel regime (NTP, SP with LR 1/n): Δz^l = Θ(n^{-min_{m≤l} r_m}) → 0 (Theorems 3.6, 3.8; the
  exponents from the classifier), so Z^{z_T} = Z^{z_0}: the change is 0 *by the theorem*; the
  Grams are the initial ones, computed exactly from the NNGP program of tensorprog.kernels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import flint
import sympy as sp

from .builders.mlp import _example, build_with_probes, mlp_spec
from .errors import ParametrizationError, TensorProgError
from .ir import sym
from .kernels import mlp_kernels
from .parametrization import ABCParametrization, classify, equivalent, preset
from .regimes import padded_inputs
from .result import exact_text
from .zcalc import derive_limit

__all__ = [
    "FeatureDiagnostics",
    "LayerFeatures",
    "MinEigenvalue",
    "TABLE1_PAPER",
    "feature_limit",
    "min_eigenvalue",
]

#: Chen et al. (arXiv:2503.09565) Table 1, as printed (quoted, for comparison only).
TABLE1_PAPER = {
    "sp_lr_1/n": ("Standard (SP)", "✗", "Rich"),
    "ntp": ("Neural Tangent (NTP)", "✗", "Rich"),
    "ip": ("Meanfield (IP)", "✓", "Low"),
    "mup": ("Maximal Update (μP)", "✓", "Rich"),
}


# --------------------------------------------------------------------------- eigenvalues
@dataclass(frozen=True)
class MinEigenvalue:
    """The smallest eigenvalue of a symmetric rational matrix.

    ``exact``: a sympy number (Rational, radical or CRootOf — the smallest real root of the
    characteristic polynomial); ``interval``: rationals (lo, hi) with lo ≤ λ_min ≤ hi and
    hi − lo ≤ 10^-30 (Arb root isolation refined by exact rational bisection: certified);
    ``value``: a float inside it.
    """

    exact: sp.Expr
    interval: tuple[sp.Rational, sp.Rational]
    value: float

    @property
    def is_zero(self) -> bool:
        """True iff λ_min = 0 exactly (the Gram matrix is singular)."""
        return bool(self.exact == 0)

    @property
    def is_positive(self) -> bool:
        """True iff λ_min > 0 (the features are linearly independent). Decided exactly: an
        isolating interval (0, hi] with λ_min ≠ 0 still means λ_min > 0, however tiny."""
        lo, hi = self.interval
        if lo > 0 or hi <= 0 or self.exact == 0:
            return bool(lo > 0)
        if lo == 0:  # the isolating interval (0, hi] holds one root, and it is not 0
            return True
        return bool(self.exact.is_positive)  # straddles 0 (min_eigenvalue never returns that)

    def __str__(self) -> str:
        if self.exact.is_Rational:
            return str(self.exact)
        return f"{self.value:.6g}"


def min_eigenvalue(M: sp.Matrix) -> MinEigenvalue:
    """λ_min of a symmetric matrix with rational entries, exactly (see :class:`MinEigenvalue`).

    The characteristic polynomial is factored over ℤ and each factor's roots isolated in
    certified balls by FLINT/Arb (python-flint); the smallest root is then refined by exact
    bisection (the sign of an integer polynomial at a rational point is exact). sympy's own
    root isolation took minutes on the huge coefficients a large learning rate produces.
    """
    if M.rows != M.cols or M != M.T:
        raise TensorProgError("min_eigenvalue needs a symmetric square matrix")
    if not all(v.is_Rational for v in M):
        raise TensorProgError(
            "min_eigenvalue is exact only for rational matrices",
            hint="derive the limit with rational inputs (mode='exact')",
        )
    if M.rows == 0:
        raise TensorProgError("min_eigenvalue needs a nonempty matrix")
    coeffs = M.charpoly().all_coeffs()  # highest degree first, rational
    den = sp.ilcm(*[c.q for c in coeffs]) if len(coeffs) > 1 else coeffs[0].q
    poly = flint.fmpz_poly([int(c * den) for c in reversed(coeffs)])
    _, factors = poly.factor()
    # Every real root of every distinct irreducible factor, as (lo, hi, factor): rational
    # brackets holding exactly that root (a linear factor's root is exact: lo = hi).
    roots = []
    for f, _mult in factors:
        if f.degree() == 1:
            r = -flint.fmpq(f[0]) / f[1]
            roots.append([r, r, f])
            continue
        for z, _ in f.complex_roots():
            if z.imag == 0:  # Arb returns real roots with an exactly zero imaginary part
                mid, rad = _fmpq(z.real.mid()), _fmpq(z.real.rad())
                roots.append([mid - rad, mid + rad, f])
    if not roots:  # unreachable for a symmetric matrix (all eigenvalues are real)
        raise TensorProgError("no real eigenvalue found")
    eps = flint.fmpq(1, 10**30)
    while True:  # separate the lowest bracket from all others (distinct roots: terminates)
        roots.sort(key=lambda r: r[0])
        low = roots[0]
        clash = [r for r in roots[1:] if r[0] <= low[1]]
        if not clash:
            break
        for r in [low] + clash:
            _bisect(r)
    while low[1] - low[0] > eps:
        _bisect(low)
    lo, hi, f = low
    if lo < 0 < hi:  # |λ_min| < 10^-30 and λ_min ≠ 0 (f(0) ≠ 0): decide its sign exactly
        if (f(flint.fmpq(0)) > 0) == (f(lo) > 0):
            lo = flint.fmpq(0)  # the root is in (0, hi]
        else:
            hi = flint.fmpq(0)  # in [lo, 0)
    exact = _exact_root(f, lo, hi)
    lo_q, hi_q = sp.Rational(int(lo.p), int(lo.q)), sp.Rational(int(hi.p), int(hi.q))
    return MinEigenvalue(exact, (lo_q, hi_q), float((lo_q + hi_q) / 2))


def _fmpq(x) -> flint.fmpq:
    """An exact (dyadic) arb midpoint or radius as a rational."""
    man, exp = x.man_exp()
    e = int(exp)
    return flint.fmpq(int(man) * 2**e) if e >= 0 else flint.fmpq(int(man), 2**-e)


def _bisect(r: list) -> None:
    """Halve the bracket [lo, hi] of the single simple root of the irreducible factor f in
    it (f has no rational root unless linear, so its signs at the endpoints are nonzero)."""
    lo, hi, f = r
    if lo == hi:
        return
    mid = (lo + hi) / 2
    if (f(mid) > 0) == (f(lo) > 0):
        r[0] = mid
    else:
        r[1] = mid


def _exact_root(f, lo, hi) -> sp.Expr:
    """The smallest real root of the irreducible factor f (it lies in [lo, hi]) as a sympy
    number: a Rational, a radical for degree 2, else CRootOf(f, 0) (sympy indexes the real
    roots first, in increasing order). λ_min is the smallest root of every factor holding it."""
    if lo == hi:
        return sp.Rational(int(lo.p), int(lo.q))
    lam = sp.Symbol("lambda")
    P = sp.Poly([int(c) for c in reversed(f.coeffs())], lam, domain="ZZ")
    if f.degree() == 2:
        return min(sp.roots(P, lam), key=lambda v: float(v))
    return sp.CRootOf(P, 0)


# --------------------------------------------------------------------------- results
@dataclass
class LayerFeatures:
    """Diagnostics of one hidden layer (features h^l or x^l) at the probe inputs.

    ``change_num[j]`` = E[(Z^{z_T(ξ_j)} − Z^{z_0(ξ_j)})²], ``change_den[j]`` = E[(Z^{z_0(ξ_j)})²],
    ``change[j]`` their ratio (sympy ``oo`` if only the denominator vanishes, ``nan`` if both).
    ``joint`` is the 2k × 2k Gram of (z_0(ξ_1..k), z_T(ξ_1..k)); ``init``/``final`` its blocks.
    """

    layer: int
    kind: str
    joint: sp.Matrix
    change_num: list[sp.Expr]
    change_den: list[sp.Expr]
    change: list[sp.Expr]
    eig_init: MinEigenvalue
    eig_final: MinEigenvalue
    eig_joint: MinEigenvalue

    @property
    def init(self) -> sp.Matrix:
        k = self.joint.rows // 2
        return self.joint[:k, :k]

    @property
    def final(self) -> sp.Matrix:
        k = self.joint.rows // 2
        return self.joint[k:, k:]

    @property
    def moves(self) -> bool:
        """True iff the limit features move at some probe (E[(ΔZ)²] > 0)."""
        return any(v != 0 for v in self.change_num)


@dataclass
class FeatureDiagnostics:
    """Feature diagnostics of one parametrization's limit (see the module docstring).

    ``method`` says how the limit was obtained: ``"derived"`` (the Tensor Program, exactly),
    ``"derived (IP: hidden W_0 → 0)"``, or ``"kernel regime (Thm 3.6/3.8)"``, where the change
    is 0 by the theorem and the Grams are the initial (derived) ones.
    """

    name: str
    parametrization: ABCParametrization
    depth: int
    kind: str
    probes: list[tuple[sp.Expr, ...]]
    layers: dict[int, LayerFeatures]
    method: str
    notes: list[str] = field(default_factory=list)
    outputs: dict[str, sp.Expr] = field(default_factory=dict)

    @property
    def feature_learning(self) -> bool:
        """Some hidden layer's limit features move (TP4 Definition 3.5 asks it of x^L)."""
        return any(lf.moves for lf in self.layers.values())

    @property
    def rich(self) -> bool:
        """The last hidden layer's final features are linearly independent (λ_min > 0)."""
        return self.layers[self.depth].eig_final.is_positive

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (exact numbers as text)."""

        def eig(e: MinEigenvalue) -> dict[str, Any]:
            try:
                exact = str(e.exact)
            except ValueError:  # an algebraic number with > 4300-digit coefficients
                exact = "root in interval"
            return {
                "exact": exact,
                "interval": [exact_text(e.interval[0]), exact_text(e.interval[1])],
                "value": e.value,
            }

        t = exact_text  # every exact number, even past 4300 digits

        return {
            "name": self.name,
            "parametrization": self.parametrization.to_dict(),
            "depth": self.depth,
            "kind": self.kind,
            "method": self.method,
            "notes": self.notes,
            "probes": [[t(v) for v in p] for p in self.probes],
            "feature_learning": self.feature_learning,
            "rich": self.rich,
            "layers": {
                str(l): {
                    "change": [t(v) for v in lf.change],
                    "change_num": [t(v) for v in lf.change_num],
                    "change_den": [t(v) for v in lf.change_den],
                    "gram_init": [[t(v) for v in lf.init.row(i)] for i in range(lf.init.rows)],
                    "gram_final": [
                        [t(v) for v in lf.final.row(i)] for i in range(lf.final.rows)
                    ],
                    "min_eig_init": eig(lf.eig_init),
                    "min_eig_final": eig(lf.eig_final),
                    "min_eig_joint": eig(lf.eig_joint),
                }
                for l, lf in self.layers.items()
            },
            "outputs": {k: t(v) for k, v in self.outputs.items()},
        }


def _layer(layer: int, kind: str, joint: sp.Matrix) -> LayerFeatures:
    k = joint.rows // 2
    num = [sp.expand(joint[k + j, k + j] - 2 * joint[j, k + j] + joint[j, j]) for j in range(k)]
    den = [joint[j, j] for j in range(k)]
    ratio = []
    for a, b in zip(num, den):
        if b != 0:
            ratio.append(a / b)
        else:
            ratio.append(sp.oo if a != 0 else sp.nan)
    return LayerFeatures(
        layer, kind, joint, num, den, ratio, min_eigenvalue(joint[:k, :k]),
        min_eigenvalue(joint[k:, k:]), min_eigenvalue(joint),
    )  # fmt: skip


# --------------------------------------------------------------------------- the limits
def _resolve(parametrization, depth: int) -> tuple[str, ABCParametrization]:
    if isinstance(parametrization, ABCParametrization):
        if parametrization.depth != depth:
            raise ParametrizationError(
                f"the parametrization has depth {parametrization.depth}, not {depth}"
            )
        return parametrization.name or str(parametrization), parametrization
    if isinstance(parametrization, str):
        p = preset(parametrization, depth)
        return p.name or parametrization, p
    raise ParametrizationError(
        f"parametrization must be a preset name or an ABCParametrization, "
        f"got {type(parametrization).__name__}"
    )


def feature_limit(
    parametrization,
    depth: int,
    activation,
    inputs,
    targets,
    lr,
    probe_inputs: Sequence,
    *,
    kind: str = "h",
    loss: str = "mse",
    batch_size: int = 1,
    batch_reduction: str = "sum",
    derive_options: dict | None = None,
) -> FeatureDiagnostics:
    """Limit feature diagnostics after training (arguments as for ``mlp_program``).

    ``parametrization``: μP, IP, or any stable nontrivial kernel-regime parametrization
    (preset name or ABCParametrization; equivalence by TP4 Eq. (5) is recognized). ``kind``:
    ``"h"`` (preactivations, as Chen et al.) or ``"x"`` (activations, as TP4 Def. 3.5). Exact for
    polynomial activations and rational numbers.
    """
    if kind not in ("h", "x"):
        raise TensorProgError(f"kind must be 'h' or 'x', got {kind!r}")
    name, p = _resolve(parametrization, depth)
    spec = mlp_spec(
        depth, activation, inputs, targets, lr, loss=loss, batch_size=batch_size,
        batch_reduction=batch_reduction,
    )  # fmt: skip
    if not probe_inputs:
        raise TensorProgError("give at least one probe input")
    k = classify(p)
    if equivalent(p, preset("mup", depth)):
        return _derived(name, p, spec, probe_inputs, kind, "derived", [], derive_options)
    if depth >= 2 and equivalent(p, preset("ip", depth)):
        # IP = μP with Var W^l_0 = n^{-2} (l = 2..L): the multiplier n^{-1/2} → 0 (docs/regimes.md)
        mult = [1] + [0] * (depth - 1) + [1]
        spec0 = mlp_spec(
            depth, spec.activation, spec.inputs, spec.targets, spec.lr, loss=loss,
            batch_size=batch_size, batch_reduction=batch_reduction, init_multipliers=mult,
        )  # fmt: skip
        notes = [
            "IP = μP with hidden Var W^l_0 = n^{-2}: derived as the μP program with hidden "
            "init multiplier n^{-1/2} → 0 (W_0 enters h = W_0 x + ΔW x linearly)",
            "outside TP4's stable class (Thm 3.3 Eq. (6)): hidden preactivations vanish at "
            "initialization, so E[(Z^{h^l_0})²] = 0 for l ≥ 2",
        ]
        return _derived(name, p, spec0, probe_inputs, kind, "derived (IP: hidden W_0 → 0)",
                        notes, derive_options)  # fmt: skip
    if k.stable and k.nontrivial and k.kernel_regime:
        return _kernel_regime(name, p, k, spec, probe_inputs, kind)
    raise ParametrizationError(
        f"no feature limit for {name}: it is {k.regime}",
        hint="supported: μP, IP, and stable nontrivial kernel-regime parametrizations "
        "(NTP, SP with LR 1/n, ...)",
    )


def _derived(name, p, spec, probe_inputs, kind, method, notes, derive_options):
    build = build_with_probes(spec, probe_inputs)
    prog = build.program
    kprobe = len(probe_inputs)
    L = spec.depth
    names: dict[int, list[str]] = {}
    for l in range(1, L + 1):
        vecs = [build.vector(kind, l, f"probe{j}_init") for j in range(kprobe)]
        vecs += [build.vector(kind, l, f"probe{j}_final") for j in range(kprobe)]
        mom = []
        for i in range(2 * kprobe):
            for j in range(i, 2 * kprobe):
                nm = f"gram_{kind}{l}_{i}_{j}"
                prog.moment(nm, sym(vecs[i]) * sym(vecs[j]))
                mom.append(nm)
        names[l] = mom
    lim = derive_limit(prog, **(derive_options or {}))
    layers = {}
    for l in range(1, L + 1):
        G = sp.zeros(2 * kprobe, 2 * kprobe)
        for i in range(2 * kprobe):
            for j in range(i, 2 * kprobe):
                G[i, j] = G[j, i] = lim[f"gram_{kind}{l}_{i}_{j}"]
        layers[l] = _layer(l, kind, G)
    return FeatureDiagnostics(
        name, p, L, kind, [tuple(x) for x in build_probes(probe_inputs)], layers, method,
        list(notes), dict(lim.outputs),
    )  # fmt: skip


def build_probes(probe_inputs) -> list[tuple[sp.Expr, ...]]:
    """The probe inputs as exact tuples (validated like the builder's inputs)."""
    return [_example(v, f"probe_inputs[{k}]") for k, v in enumerate(probe_inputs)]


def _kernel_regime(name, p, k, spec, probe_inputs, kind):
    probes = build_probes(probe_inputs)
    L = spec.depth
    kern = mlp_kernels(padded_inputs(probes), L, spec.activation)
    lim = kern.limit
    m = len(probes)
    layers = {}
    for l in range(1, L + 1):
        G = sp.zeros(m, m)
        for i in range(m):
            for j in range(i, m):
                if kind == "x":
                    v = lim[f"xx{l}_{i}_{j}"]
                elif l == 1:
                    v = sum((a * b for a, b in zip(probes[i], probes[j])), sp.S.Zero)
                else:
                    v = lim[f"xx{l - 1}_{i}_{j}"]
                G[i, j] = G[j, i] = v
        # Theorems 3.6/3.8: Z^{z_T} = Z^{z_0}, so the joint Gram is [[G, G], [G, G]].
        layers[l] = _layer(l, kind, sp.BlockMatrix([[G, G], [G, G]]).as_explicit())
    exps = ", ".join(f"x^{l}: n^-{e}" for l, e in enumerate(k.feature_exponents, start=1))
    notes = [
        f"kernel regime (r = {k.r} > 0): Δx^l = Θ(n^(-min_m<=l r_m)) → 0 ({exps}); the limit "
        "feature change is 0 by TP4 Thm 3.6/3.8, not derived from a program",
        "init features of a stable parametrization (a_1+b_1 = 0, a_l+b_l = 1/2) are μP's; "
        "their Grams are derived exactly with tensorprog.kernels",
    ]
    return FeatureDiagnostics(
        name, p, L, kind, probes, layers, "kernel regime (Thm 3.6/3.8)", notes
    )
