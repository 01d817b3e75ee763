"""Kernel-regime training limits of abc-parametrized MLPs (TP4 Definition 3.7, Theorem 3.8).

For a stable, nontrivial abc-parametrization with r > 0 (NTP; SP with learning rate η/n; …) the
infinite-width output follows kernel gradient descent (TP4 Eq. (9))

    f_{t+1}(ξ) = f_t(ξ) − η Σ_{i ∈ batch t} K(ξ, ξ_{t,i}) χ_{t,i},   χ = L'(f_t(ξ_{t,i}), y_{t,i}),

started from the random initial output f_0, a centred Gaussian process with covariance
σ² E[Z^{x^L(ξ)} Z^{x^L(ζ)}] (the NNGP) when a_{L+1} + b_{L+1} = 1/2, and f_0 ≡ 0 when
a_{L+1} + b_{L+1} > 1/2.

Which layers contribute to K (derived in docs/regimes.md from the sizes of TP4 §3.2 / §5.3):
writing ΔW^l = −η c_l n^{-(2a_l+c)} χ ∇_{W^l} f, the first-order change of f(ξ) from layer l is
−η c_l n^{-(2a_l+c)} χ ⟨∇_{W^l} f(ξ), ∇_{W^l} f(ξ_t)⟩, of size n^{1-(2a_{L+1}+c)} for the
output layer and n^{1-s-r_l} for l ≤ L when 2a_{L+1}+c ≥ s := a_{L+1}+b_{L+1} (r_l of
Proposition 5.3). Stability (Theorem 3.3) makes every exponent ≤ 0, so

* W^{L+1} contributes iff 2a_{L+1} + c = 1 (it is *updated maximally*, Proposition 5.5);
* W^l, l ≤ L, contributes iff a_{L+1} + b_{L+1} + r = 1 (W^{L+1} *initialized maximally*) and
  r_l = r (the layers whose update is the largest).

Each contributing layer adds its term of the NTK sum; the terms are computed exactly with
:mod:`tensorprog.kernels` (see :func:`layer_terms` for the convention mapping).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from math import isqrt
from typing import Any

import numpy as np
import sympy as sp

from .builders.mlp import MLPSpec, _loss, mlp_spec
from .errors import ParametrizationError, TensorProgError
from .ir import as_number
from .kernels import mlp_kernels
from .parametrization import ABCParametrization, Classification, classify, preset
from .training import train_mlp

__all__ = [
    "KernelGDRun",
    "KernelRegime",
    "contributing_layers",
    "finite_width_comparison",
    "finite_width_runs",
    "kernel_regime_limit",
    "layer_terms",
    "padded_inputs",
]


# --------------------------------------------------------------------------- which layers
def _as_parametrization(parametrization, depth: int | None) -> ABCParametrization:
    if isinstance(parametrization, ABCParametrization):
        if depth is not None and depth != parametrization.depth:
            raise ParametrizationError(
                f"depth {depth} disagrees with the parametrization's depth "
                f"{parametrization.depth}",
                hint="give a_l, b_l for layers 1..L+1, or omit depth",
            )
        return parametrization
    if isinstance(parametrization, str):
        if depth is None:
            raise ParametrizationError(
                f"preset '{parametrization}' needs a depth", hint="pass depth=L"
            )
        return preset(parametrization, depth)
    raise ParametrizationError(
        f"parametrization must be a preset name or an ABCParametrization, "
        f"got {type(parametrization).__name__}"
    )


def contributing_layers(
    k: Classification, *, allow_feature_learning: bool = False
) -> tuple[tuple[int, ...], dict[int, str]]:
    """The layers (1..L+1) whose updates make up the kernel of TP4 Eq. (9), with reasons.

    Raises ParametrizationError unless ``k`` is stable and in the kernel regime (r > 0) or
    trivial (then no layer contributes and f_t = f_0). ``allow_feature_learning=True`` applies
    the same first-order rule to a feature-learning parametrization (r = 0): the result is
    the kernel of the *linearized* network at initialization, which is **not** its limit
    (Theorem 3.8) — useful only to show that.
    """
    p = k.parametrization
    L = k.depth
    if not k.stable:
        raise ParametrizationError(
            f"{p} is not stable (Theorem 3.3): {k.violations[0]}",
            hint="kernel-regime limits exist for stable parametrizations; "
            "`tensorprog classify` lists every violated inequality",
        )
    if k.feature_learning and k.nontrivial and not allow_feature_learning:
        raise ParametrizationError(
            f"{p.name or p} has r = 0: it admits feature learning (Theorem 3.6), so by "
            "Theorem 3.8 its limit is not kernel gradient descent",
            hint="use tensorprog.builders.mlp_program + derive_limit for μP-type limits",
        )
    s = p.a_(L + 1) + p.b_(L + 1)
    reasons: dict[int, str] = {}
    if k.last_update_exponent == 1:
        reasons[L + 1] = (
            "2a_{L+1} + c = 1: W^{L+1} is updated maximally (Prop. 5.5); its update adds "
            "c_{L+1} E[Z^{x^L(ξ)} Z^{x^L(ζ)}]"
        )
    if k.last_init_exponent == 1 and s <= k.last_update_exponent:
        for l, rl in enumerate(k.r_layers, start=1):
            if rl == k.r:
                reasons[l] = (
                    f"a_{{L+1}} + b_{{L+1}} + r = 1 and r_{l} = r = {k.r}: W_0^{{L+1}} Δx^L "
                    f"picks up ΔW^{l}'s Θ(n^{{-r}}) change at Θ(1)"
                )
    return tuple(sorted(reasons)), reasons


# --------------------------------------------------------------------------- kernel terms
def padded_inputs(inputs: Sequence[Sequence[sp.Expr]]) -> list[list[sp.Expr]]:
    """Inputs ξ' with ξ'·ζ'/d' = ξ·ζ exactly: d' = m² (m = ⌈√d⌉), ξ' = m ξ padded with zeros.

    tensorprog.kernels follows stax (first layer W_std/√d' · w), so its first-layer covariance
    is σ² ξ'·ζ'/d'; our trainer has no 1/√d (Var W¹ = σ²), i.e. covariance σ² ξ·ζ.
    """
    d = len(inputs[0])
    m = isqrt(d - 1) + 1 if d > 1 else 1
    return [[m * v for v in xi] + [sp.Integer(0)] * (m * m - d) for xi in inputs]


def layer_terms(
    points: Sequence[Sequence[sp.Expr]], depth: int, activation: sp.Expr, weight_var=1
) -> tuple[dict[int, sp.Matrix], Any]:
    """The NTK's per-layer terms T_l (l = 1..L+1) at ``points``, exactly, from tensorprog.kernels.

    Convention mapping (checked in tests/test_regimes.py): stax's NTK parametrization with
    W_std² = σ² is the abc-parametrization NTP with init multipliers σ on every layer and
    learning-rate multipliers c_l = σ² (first layer σ²/d, which ``padded_inputs`` removes).
    For our networks (init std multiplier σ on every layer, learning-rate multipliers c_l)
    the contribution of layer l to the kernel is therefore (c_l/σ²) T_l, with
    T_{L+1} = σ² E[x^L x^L'] (the NNGP), T_l = σ² E[δ^l δ^l'] E[x^{l-1} x^{l-1}'] (2 ≤ l ≤ L)
    and T_1 = σ² E[δ^1 δ^1'] ξ·ζ, δ^l = √n ∂f/∂h^l. Returns (terms, Kernels).
    """
    xs = padded_inputs(points)
    s2 = as_number(weight_var)
    kern = mlp_kernels(xs, depth, activation, weight_var=s2)
    lim = kern.limit
    k = len(xs)
    dprime = len(xs[0])
    terms = {l: sp.zeros(k, k) for l in range(1, depth + 2)}
    for i in range(k):
        for j in range(i, k):
            # The moment names of tensorprog.kernels.kernel_program.
            vals = {depth + 1: s2 * lim[f"xx{depth}_{i}_{j}"]}
            for l in range(2, depth + 1):
                vals[l] = s2 * (s2 * lim[f"dd{l}_{i}_{j}"]) * lim[f"xx{l - 1}_{i}_{j}"]
            dot = sum((a * b for a, b in zip(xs[i], xs[j])), sp.S.Zero)
            vals[1] = s2 / dprime * dot * (s2 * lim[f"dd1_{i}_{j}"])
            for l, v in vals.items():
                terms[l][i, j] = terms[l][j, i] = v
    # The terms must add up to the engine's NTK and the output term must be its NNGP.
    total = sum((terms[l] for l in terms), sp.zeros(k, k))
    if (total - kern.ntk).applyfunc(sp.simplify) != sp.zeros(k, k) or terms[depth + 1] != kern.nngp:
        raise TensorProgError("internal: per-layer kernel terms do not add up to the NTK")
    return terms, kern


# --------------------------------------------------------------------------- the limit
@dataclass
class KernelGDRun:
    """One kernel-gradient-descent trajectory (TP4 Eq. (9)).

    ``f[t, i]``/``losses[t, i]``: output and loss on example i of step t before update t;
    ``eval_f[e]``: output at eval input e after the last update; ``values[p]``: f at every
    point after the last update. Entries are sympy numbers when the run is exact, else floats.
    """

    f: np.ndarray
    losses: np.ndarray
    eval_f: np.ndarray
    values: list

    def outputs(self) -> dict[str, Any]:
        """Values under the MLP program's output names (``f_t``, ``loss_t``, ``f_T_e``)."""
        T, B = self.f.shape
        out: dict[str, Any] = {}
        for t in range(T):
            for i in range(B):
                tag = f"{t}" if B == 1 else f"{t}_{i}"
                out[f"f_{tag}"] = self.f[t, i]
                out[f"loss_{tag}"] = self.losses[t, i]
        for e, v in enumerate(self.eval_f):
            out[f"f_{T}_{e}"] = v
        return out


@dataclass
class KernelRegime:
    """The kernel-regime limit of training an abc-parametrized MLP (see module docstring).

    ``points`` are the distinct inputs (training inputs in order of first use, then eval
    inputs); ``kernel`` and ``f0_cov`` are exact Gram matrices over them; ``terms[l]`` is layer
    l's (already weighted) contribution; ``layers`` the contributing layers with ``reasons``.
    """

    parametrization: ABCParametrization
    classification: Classification
    spec: MLPSpec
    weight_var: sp.Expr
    points: list[tuple[sp.Expr, ...]]
    train_index: list[list[int]]
    eval_index: list[int]
    layers: tuple[int, ...]
    reasons: dict[int, str]
    terms: dict[int, sp.Matrix]
    kernel: sp.Matrix
    f0_cov: sp.Matrix
    is_limit: bool = True
    ntk_terms: dict[int, sp.Matrix] = field(default_factory=dict)

    # -- kernel gradient descent
    def run(self, f0=None) -> KernelGDRun:
        """Kernel GD from f_0 (one value per point; None = 0). Exact with exact f_0 (and a
        loss whose derivative keeps rationals rational); floats are run in floating point."""
        spec = self.spec
        npts = len(self.points)
        exact = f0 is None or all(
            isinstance(v, int) or (isinstance(v, sp.Basic) and v.is_Rational) for v in f0
        )
        if f0 is not None and len(f0) != npts:
            raise TensorProgError(f"f0 needs {npts} values (one per point), got {len(f0)}")
        if exact:
            # f0 holds ints or sympy Rationals here (checked above): no text is ever parsed.
            F = [sp.S.Zero] * npts if f0 is None else [sp.Integer(v) if isinstance(v, int) else v
                                                        for v in f0]
            K = self.kernel
            eta = spec.lr
            ys = spec.targets
        else:
            F = np.asarray(f0, dtype=float).copy()
            K = np.array(self.kernel.evalf(), dtype=float)
            eta = float(spec.lr)
            ys = [float(y) for y in spec.targets]
        B = spec.batch_size
        per = B if spec.batch_reduction == "mean" else 1
        T = spec.steps
        fs = np.empty((T, B), dtype=object if exact else float)
        ls = np.empty((T, B), dtype=object if exact else float)
        fsym = sp.Symbol("f")
        for t in range(T):
            chis = []
            for i, p in enumerate(self.train_index[t]):
                y = ys[t * B + i]
                fv = F[p]
                if exact:
                    lo, dl = _loss(spec.loss, fsym, y)
                    ls[t, i] = lo.subs(fsym, fv)
                    chis.append(dl.subs(fsym, fv))
                else:
                    if spec.loss == "mse":
                        ls[t, i], c = 0.5 * (fv - y) ** 2, fv - y
                    else:
                        ls[t, i] = float(np.logaddexp(0.0, -y * fv))
                        c = -y * 0.5 * (1.0 - np.tanh(0.5 * y * fv))
                    chis.append(c)
                fs[t, i] = fv
            for i, p in enumerate(self.train_index[t]):
                step = eta * chis[i] / per
                for q in range(npts):
                    F[q] = F[q] - step * K[q, p]
            if exact:
                F = [sp.expand(v) if not v.is_Rational else v for v in F]
        ev = np.array([F[p] for p in self.eval_index], dtype=object if exact else float)
        return KernelGDRun(fs, ls, ev, list(F))

    def gaussian(self) -> dict[str, tuple[sp.Expr, sp.Expr]]:
        """For the MSE loss: the exact (mean, variance) of every output in the limit.

        With χ = f − y, Eq. (9) is affine in f_0, so F_t = A_t F_0 + m_t with F_0 ~ N(0, Σ_0)
        (Σ_0 = ``f0_cov``): f_t is Gaussian with mean m_t and variance (A_t Σ_0 A_tᵀ). For
        ``loss_t`` the value is (E[loss], None) with E[½(f−y)²] = ½((m−y)² + var).
        """
        spec = self.spec
        if spec.loss != "mse":
            raise TensorProgError(
                "the Gaussian description needs the MSE loss (χ linear in f)",
                hint="use run(f0) per sample for other losses",
            )
        npts = len(self.points)
        A = sp.eye(npts)
        m = sp.zeros(npts, 1)
        K = self.kernel
        B = spec.batch_size
        per = B if spec.batch_reduction == "mean" else 1
        out: dict[str, tuple[sp.Expr, sp.Expr]] = {}

        def var(q: int) -> sp.Expr:
            row = A[q, :]
            return sp.expand((row * self.f0_cov * row.T)[0, 0])

        for t in range(spec.steps):
            M = sp.eye(npts)
            c = sp.zeros(npts, 1)
            for i, p in enumerate(self.train_index[t]):
                tag = f"{t}" if B == 1 else f"{t}_{i}"
                y = spec.targets[t * B + i]
                mv, vv = m[p, 0], var(p)
                out[f"f_{tag}"] = (mv, vv)
                out[f"loss_{tag}"] = ((mv - y) ** 2 / 2 + vv / 2, None)
                # F ← F − (η/per) K[:, p] (F[p] − y)
                M -= spec.lr / per * K[:, p] * sp.eye(npts)[p, :]
                c += spec.lr / per * y * K[:, p]
            A = M * A
            m = M * m + c
        for e, p in enumerate(self.eval_index):
            out[f"f_{spec.steps}_{e}"] = (m[p, 0], var(p))
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (exact numbers as text)."""

        def mat(M: sp.Matrix) -> list[list[str]]:
            return [[str(v) for v in M.row(i)] for i in range(M.rows)]

        return {
            "parametrization": self.parametrization.to_dict(),
            "is_limit": self.is_limit,
            "layers": list(self.layers),
            "reasons": {str(k): v for k, v in self.reasons.items()},
            "points": [[str(v) for v in p] for p in self.points],
            "kernel": mat(self.kernel),
            "f0_cov": mat(self.f0_cov),
            "terms": {str(l): mat(M) for l, M in self.terms.items()},
        }


def kernel_regime_limit(
    parametrization,
    activation,
    inputs,
    targets,
    lr,
    *,
    depth: int | None = None,
    loss: str = "mse",
    batch_size: int = 1,
    batch_reduction: str = "sum",
    eval_inputs=None,
    weight_var=1,
    lr_multipliers=None,
    allow_feature_learning: bool = False,
) -> KernelRegime:
    """The kernel-regime limit (TP4 Thm 3.8) of SGD on an MLP in ``parametrization``.

    parametrization: an :class:`ABCParametrization` or a preset name (then ``depth`` = L).
    The network is the one :func:`tensorprog.training.train_mlp` trains with
    ``init_multipliers = [√weight_var] * (L+1)`` and ``lr_multipliers``: Var W¹ = σ²,
    Var W^l = σ² n^{-2(a_l+b_l)}, learning rate η c_l n^{-(2a_l+c)}. Other arguments as for
    :func:`tensorprog.builders.mlp_program`. Polynomial activations give exact kernels.
    ``allow_feature_learning``: see :func:`contributing_layers` (the result is then the
    linearized dynamics, ``is_limit`` False).
    """
    p = _as_parametrization(parametrization, depth)
    L = p.depth
    spec = mlp_spec(
        L, activation, inputs, targets, lr, loss=loss, batch_size=batch_size,
        eval_inputs=eval_inputs, batch_reduction=batch_reduction,
        lr_multipliers=lr_multipliers,
    )  # fmt: skip
    s2 = as_number(weight_var)
    if not s2.is_positive:
        raise TensorProgError(f"weight_var must be positive, got {weight_var}")
    k = classify(p)
    layers, reasons = contributing_layers(k, allow_feature_learning=allow_feature_learning)
    points: list[tuple[sp.Expr, ...]] = []
    index: dict[tuple[sp.Expr, ...], int] = {}

    def at(xi: tuple[sp.Expr, ...]) -> int:
        if xi not in index:
            index[xi] = len(points)
            points.append(xi)
        return index[xi]

    B = spec.batch_size
    train_index = [[at(spec.inputs[t * B + i]) for i in range(B)] for t in range(spec.steps)]
    eval_index = [at(xi) for xi in spec.eval_inputs]
    ntk_terms, _ = layer_terms(points, L, spec.activation, s2)
    npts = len(points)
    terms = {l: spec.lr_multipliers[l - 1] / s2 * ntk_terms[l] for l in layers}
    kernel = sum((terms[l] for l in layers), sp.zeros(npts, npts))
    s = p.a_(L + 1) + p.b_(L + 1)
    # f_0 = W^{L+1}_0 x^L_0 has variance σ² n^{1-2s} E[x^L x^L]: the NNGP (= T_{L+1}) at s = 1/2.
    f0_cov = ntk_terms[L + 1] if s == sp.Rational(1, 2) else sp.zeros(npts, npts)
    is_limit = not (k.feature_learning and k.nontrivial)
    return KernelRegime(
        p, k, spec, s2, points, train_index, eval_index, layers, reasons, terms, kernel,
        f0_cov, is_limit, ntk_terms,
    )  # fmt: skip


# --------------------------------------------------------------------------- vs finite width
def finite_width_runs(
    regime: KernelRegime, width: int, seeds: Sequence[int]
) -> list[tuple[dict[str, float], np.ndarray]]:
    """Train the real network (tensorprog.training.train_mlp) once per seed: a list of
    (outputs, f_0 at every point of ``regime``), the latter with the initial weights."""
    spec = regime.spec
    L = spec.depth
    sigma = float(sp.sqrt(regime.weight_var))
    runs = []
    for seed in seeds:
        res = train_mlp(
            L, spec.activation, [list(x) for x in spec.inputs], list(spec.targets), spec.lr,
            width=width, seed=seed, parametrization=regime.parametrization, loss=spec.loss,
            batch_size=spec.batch_size, batch_reduction=spec.batch_reduction,
            eval_inputs=[list(x) for x in spec.eval_inputs] or None,
            init_multipliers=[sigma] * (L + 1), lr_multipliers=list(spec.lr_multipliers),
            probe_inputs=[list(x) for x in regime.points],
        )  # fmt: skip
        runs.append((res.outputs(), res.features["f", L + 1, "init"]))
    return runs


def finite_width_comparison(
    regime: KernelRegime,
    width: int,
    seeds: Sequence[int],
    runs: list[tuple[dict[str, float], np.ndarray]] | None = None,
) -> dict[str, Any]:
    """Per seed, kernel GD from the finite network's own f_0 vs the trained finite network.

    ``runs`` (from :func:`finite_width_runs` with the same points) avoids retraining when
    several kernels are compared. Returns ``{"discrepancy": array (per seed: max over the f
    outputs of |finite − kernel GD|), "finite": [outputs per seed], "kernel_gd": [...],
    "f0": array seeds × points}``.
    """
    if runs is None:
        runs = finite_width_runs(regime, width, seeds)
    disc, fin, kgd, f0s = [], [], [], []
    for a, f0 in runs:
        b = regime.run(f0).outputs()
        names = [k for k in a if k.startswith("f_")]
        disc.append(max(abs(a[k] - float(b[k])) for k in names))
        fin.append(a)
        kgd.append({k: float(v) for k, v in b.items()})
        f0s.append(f0)
    return {
        "discrepancy": np.array(disc),
        "finite": fin,
        "kernel_gd": kgd,
        "f0": np.array(f0s),
    }
