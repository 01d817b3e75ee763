"""The μP limit of a 1-hidden-layer linear network, and its finite widths, from one code path.

TP4 (Yang & Hu, "Tensor Programs IV", arXiv:2011.14522) §6.1, after Corollary 6.2: the
infinite-width μP network ``f(ξ) = W₂ W₁ ξ`` with input dimension d and output dimension d_o
*is* a width-(d + d_o) linear network with the "diagonal" initialization

    W₁^∞ = [σ₁ I_d ; 0],   W₂^∞ = [0 , σ₂ I_{d_o}],

trained by the same optimizer. Why: in the Tensor Program every Z^{U_j} (a column of W₁ in
Θ(1) units) and every Z^{nV_k} (a row of n·W₂) stays a linear combination of the d + d_o
initial Gaussians, and f = E[Z^{nV} Z^h] is the inner product of the coefficient vectors.
A finite width-n μP network is ``W₁ = n^{-1/2} Ω W₁^∞``, ``W₂ = n^{-1/2} W₂^∞ Ωᵀ`` with
Ω ∈ ℝ^{n×(d+d_o)} standard Gaussian, trained by plain SGD in these (standard) coordinates:
ΩᵀΩ/n → I gives back the limit. So :func:`limit_init` and :func:`sample_width` build the
two starting points and everything else (forward, losses, gradients, SGD with weight decay
and global-norm clipping) is the same code for both.

The state is kept as ``E = W₁ᵀ`` (rows = input embeddings, d × m) and ``O = W₂`` (d_o × m),
m = d + d_o in the limit and n at width n, so sparse / one-hot inputs touch only their rows.
Arrays may be float64 or numpy object arrays of :class:`fractions.Fraction` (``exact=True``):
then MSE training is exact rational arithmetic, which is how the module is proved equal to the
Tensor Program's limit (:func:`linear1_program` + :func:`tensorprog.derive_limit`).

Conventions (the same as ``tensorprog.builders.mlp`` / ``docs/mlp.md``):

* losses per example: ``"mse"`` ½‖f − y‖² (χ = f − y); ``"logistic"`` Σ_k log(1 + e^{−y_k f_k})
  with labels ±1 (χ = −y σ(−y f)); ``"softmax"`` cross-entropy with integer class labels
  (χ = softmax(f) − onehot(y));
* a batch's gradient is the ``"sum"`` (default) or ``"mean"`` of the per-example gradients;
* clipping rescales the loss gradient to global norm ≤ ``clip`` (over all parameters), then
  SGD with weight decay λ: ``W ← W − η (g + λ W)``.
* an optional first-layer bias ``b`` enters as ``h = W₁ ξ + α b`` (TP4's MAML code): a column of
  W₁ for the constant input α, initialized at 0 (so the limit's width stays d + d_o).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.sparse as sps
import sympy as sp

from ..errors import TensorProgError
from ..ir import Program
from ..transforms.data import read_number

LOSSES = ("mse", "logistic", "softmax")
REDUCTIONS = ("sum", "mean")


# --------------------------------------------------------------------------- the state
@dataclass
class Linear1:
    """A 1-hidden-layer linear network ``f(ξ) = O (Eᵀ ξ + α b)`` in standard coordinates.

    ``E``: (d, m) first layer transposed; ``O``: (d_o, m) output layer; ``b``: (m,) first-layer
    bias or None; ``bias_alpha``: the bias multiplier α. ``m`` is d + d_o for the μP limit and
    the width n for a finite network.
    """

    E: np.ndarray
    O: np.ndarray
    b: np.ndarray | None = None
    bias_alpha: float = 1.0

    @property
    def d(self) -> int:
        return self.E.shape[0]

    @property
    def d_out(self) -> int:
        return self.O.shape[0]

    @property
    def width(self) -> int:
        return self.E.shape[1]

    @property
    def exact(self) -> bool:
        return self.E.dtype == object

    def copy(self) -> Linear1:
        return Linear1(
            self.E.copy(), self.O.copy(), None if self.b is None else self.b.copy(),
            self.bias_alpha,
        )

    def params(self) -> list[np.ndarray]:
        return [self.E, self.O] + ([] if self.b is None else [self.b])


def _number(v, what: str):
    """Fraction for exact work: ints, Fractions and sympy Rationals only (never floats)."""
    if isinstance(v, (bool, np.bool_)):
        raise TensorProgError(f"{what} must be a number, got {v!r}")
    if isinstance(v, (int, np.integer)):
        return Fraction(int(v))
    if isinstance(v, Fraction):
        return v
    if isinstance(v, sp.Rational):
        return Fraction(int(v.p), int(v.q))
    raise TensorProgError(
        f"{what} = {v!r} is not exact",
        hint="with exact=True give ints, fractions.Fraction or sympy Rationals (no floats)",
    )


def _as_array(x, exact: bool, what: str) -> np.ndarray:
    if exact:
        a = np.asarray(x, dtype=object)
        return np.vectorize(lambda v: _number(v, what), otypes=[object])(a) if a.size else a
    return np.asarray(x, dtype=float)


def _check_dims(d: int, d_out: int) -> None:
    for name, v in (("d", d), ("d_out", d_out)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise TensorProgError(f"{name} must be an integer >= 1, got {v!r}")


def limit_init(
    d: int,
    d_out: int,
    sigma1=1,
    sigma2=1,
    *,
    bias: bool = False,
    bias_alpha=1,
    exact: bool = False,
) -> Linear1:
    """The μP limit at initialization: width d + d_o, ``W₁ = [σ₁ I_d ; 0]``, ``W₂ = [0, σ₂ I]``
    (TP4 §6.1 after Cor. 6.2). ``sigma2 = 0`` gives a zero output layer. ``exact``: Fraction
    entries (then sigma1, sigma2, bias_alpha must be exact numbers)."""
    _check_dims(d, d_out)
    s1 = _as_array(sigma1, exact, "sigma1")[()]
    s2 = _as_array(sigma2, exact, "sigma2")[()]
    m = d + d_out
    zero = Fraction(0) if exact else 0.0
    dtype = object if exact else float
    E = np.full((d, m), zero, dtype=dtype)
    O = np.full((d_out, m), zero, dtype=dtype)
    for j in range(d):
        E[j, j] = s1
    for k in range(d_out):
        O[k, d + k] = s2
    b = np.full(m, zero, dtype=dtype) if bias else None
    alpha = _as_array(bias_alpha, exact, "bias_alpha")[()]
    return Linear1(E, O, b, alpha)


def sample_width(net: Linear1, width: int, rng: np.random.Generator | int | None = None,
                 *, omega: np.ndarray | None = None) -> Linear1:  # fmt: skip
    """The width-n μP network of a limit state: ``W₁ = n^{-1/2} Ω W₁^∞``,
    ``W₂ = n^{-1/2} W₂^∞ Ωᵀ`` (bias ``n^{-1/2} Ω b^∞``), Ω ∈ ℝ^{n×m} iid N(0, 1) (TP4 §6.1).

    Works for any state of the limit (not only at initialization); ``omega`` overrides the draw.
    """
    if net.exact:
        raise TensorProgError("sample_width needs a float state", hint="use exact=False")
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise TensorProgError(f"width must be an integer >= 1, got {width!r}")
    m = net.width
    if omega is None:
        rng = np.random.default_rng(rng)
        omega = rng.standard_normal((width, m))
    elif omega.shape != (width, m):
        raise TensorProgError(f"omega must have shape ({width}, {m}), got {omega.shape}")
    s = width**-0.5
    b = None if net.b is None else s * (omega @ net.b)
    return Linear1(s * (net.E @ omega.T), s * (net.O @ omega.T), b, net.bias_alpha)


# --------------------------------------------------------------------------- forward / losses
def _inputs(net: Linear1, X):
    """(X as a 2-D dense array or CSR matrix, is_sparse)."""
    if sps.issparse(X):
        if net.exact:
            raise TensorProgError("sparse inputs need a float network", hint="use dense inputs")
        X = sps.csr_matrix(X, dtype=float)
        ok = X.ndim == 2
    else:
        X = _as_array(X, net.exact, "input")
        if X.ndim == 1:
            X = X[None, :]
        ok = X.ndim == 2
    if not ok or X.shape[1] != net.d:
        raise TensorProgError(
            f"inputs must have {net.d} columns, got shape {X.shape}",
            hint="one row per example, one column per input coordinate",
        )
    return X, sps.issparse(X)


def hidden(net: Linear1, X) -> np.ndarray:
    """The hidden features h = W₁ξ (+ αb), one row per example (standard coordinates)."""
    X, _ = _inputs(net, X)
    H = np.asarray(X @ net.E)
    if net.b is not None:
        H = H + net.bias_alpha * net.b
    return H


def forward(net: Linear1, X) -> tuple[np.ndarray, np.ndarray]:
    """(H, F): hidden features (B × m) and outputs F = H W₂ᵀ (B × d_o)."""
    H = hidden(net, X)
    return H, H @ net.O.T


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free σ


def loss_and_chi(F: np.ndarray, Y, loss: str = "mse") -> tuple[np.ndarray, np.ndarray]:
    """Per-example losses and χ = ∂loss/∂f (same shape as F); see the module docstring."""
    if loss not in LOSSES:
        raise TensorProgError(f"unknown loss '{loss}'", hint=f"one of: {', '.join(LOSSES)}")
    exact = F.dtype == object
    if loss == "softmax":
        if exact:
            raise TensorProgError("the softmax loss needs floats", hint="use exact=False")
        y = np.asarray(Y)
        if y.ndim != 1 or y.shape[0] != F.shape[0] or not np.issubdtype(y.dtype, np.integer):
            raise TensorProgError("softmax targets must be one integer class label per example")
        if y.size and (y.min() < 0 or y.max() >= F.shape[1]):
            raise TensorProgError(f"class labels must lie in 0..{F.shape[1] - 1}")
        z = F - F.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        P = np.exp(z - lse[:, None])
        rows = np.arange(F.shape[0])
        chi = P.copy()
        chi[rows, y] -= 1.0
        return lse - z[rows, y], chi
    Y = _as_array(Y, exact, "target")
    if Y.ndim == 1 and F.shape[1] == 1:
        Y = Y[:, None]
    if Y.shape != F.shape:
        raise TensorProgError(f"targets have shape {Y.shape} but outputs {F.shape}")
    if loss == "mse":
        R = F - Y
        return (R * R).sum(axis=1) / 2, R
    if exact:
        raise TensorProgError("the logistic loss needs floats (exp is irrational)",
                              hint="use exact=False, or mode='float' in the engine")  # fmt: skip
    if not np.all(np.isin(Y, (-1.0, 1.0))):
        raise TensorProgError("the logistic loss needs labels ±1")
    m = -Y * F
    return np.logaddexp(0.0, m).sum(axis=1), -Y * _sigmoid(m)


# --------------------------------------------------------------------------- gradients / SGD
@dataclass
class Grads:
    """Loss gradients in standard coordinates. ``E_rows``: the rows of E that the batch
    touches (all rows for dense inputs) with ``E`` their gradient; ``losses`` per example."""

    E_rows: np.ndarray
    E: np.ndarray
    O: np.ndarray
    b: np.ndarray | None
    losses: np.ndarray
    outputs: np.ndarray

    def sq_norm(self):
        """‖g‖² over all parameters (exact for Fraction entries)."""
        parts = [self.E, self.O] + ([] if self.b is None else [self.b])
        if self.O.dtype == object:
            return sum(((a * a).sum() for a in parts), Fraction(0))
        return float(sum(np.vdot(a, a) for a in parts))  # no d_o × m temporaries


def gradients(net: Linear1, X, Y, loss: str = "mse", reduction: str = "sum") -> Grads:
    """The batch gradient: ∂/∂W₂ = χᵀH, ∂/∂W₁ᵀ = Xᵀ(χW₂), ∂/∂b = α Σ_b χW₂."""
    if reduction not in REDUCTIONS:
        raise TensorProgError(f"unknown reduction '{reduction}'", hint="'sum' or 'mean'")
    X, sparse = _inputs(net, X)
    H = np.asarray(X @ net.E)
    if net.b is not None:
        H = H + net.bias_alpha * net.b
    F = H @ net.O.T
    losses, chi = loss_and_chi(F, Y, loss)
    if reduction == "mean":
        chi = chi / (Fraction(X.shape[0]) if net.exact else X.shape[0])
    dH = chi @ net.O  # n-scaled backprop of a linear layer: dh = W₂ᵀχ
    gO = chi.T @ H
    gb = None if net.b is None else net.bias_alpha * dH.sum(axis=0)
    if sparse:
        rows = np.unique(X.indices)
        gE = np.asarray(X[:, rows].T @ dH)
    else:
        rows = np.arange(net.d)
        gE = X.T @ dH
    return Grads(rows, gE, gO, gb, losses, F)


def clip_factor(sq_norm, clip):
    """min(1, clip/‖g‖): exact (a sympy number) when ‖g‖² is a Fraction and clipping acts."""
    if clip is None or sq_norm <= clip * clip:
        return 1
    if isinstance(sq_norm, Fraction):
        return sp.Rational(clip) / sp.sqrt(sp.Rational(sq_norm.numerator, sq_norm.denominator))
    return clip / math.sqrt(sq_norm)


def apply_update(net: Linear1, g: Grads, lr, *, weight_decay=0, clip=None) -> None:
    """In place: clip g to global norm ``clip``, then ``W ← W − lr (g + weight_decay W)``."""
    c = clip_factor(g.sq_norm(), clip)
    step = lr * c
    if weight_decay:
        keep = 1 - lr * weight_decay
        net.O *= keep
        net.E *= keep
        if net.b is not None:
            net.b *= keep
    net.O -= step * g.O
    net.E[g.E_rows] -= step * g.E
    if net.b is not None:
        net.b -= step * g.b


def sgd_step(net: Linear1, X, Y, lr, *, loss: str = "mse", reduction: str = "sum",
             weight_decay=0, clip=None) -> Grads:  # fmt: skip
    """One SGD step on the batch (X, Y), in place; returns the gradient (with the batch's
    losses and outputs before the step)."""
    if net.exact:
        lr = _number(lr, "lr")
        weight_decay = _number(weight_decay, "weight_decay")
        clip = None if clip is None else _number(clip, "clip")
    g = gradients(net, X, Y, loss, reduction)
    apply_update(net, g, lr, weight_decay=weight_decay, clip=clip)
    return g


def train(net: Linear1, batches: Iterable[tuple[object, object]], lr, *, loss: str = "mse",
          reduction: str = "sum", weight_decay=0, clip=None) -> list[np.ndarray]:  # fmt: skip
    """SGD over ``batches`` (pairs X, Y), in place; returns each batch's per-example losses
    (before its step)."""
    return [
        sgd_step(net, X, Y, lr, loss=loss, reduction=reduction, weight_decay=weight_decay,
                 clip=clip).losses  # fmt: skip
        for X, Y in batches
    ]


def gram(net: Linear1, X) -> np.ndarray:
    """The Gram matrix of the hidden features h(ξ_a)·h(ξ_b) (Θ(1) at every width)."""
    H = hidden(net, X)
    return H @ H.T


# --------------------------------------------------------------------------- as a Tensor Program
def linear1_program(
    inputs: Sequence[Sequence],
    targets: Sequence,
    lr,
    *,
    batch_size: int = 1,
    sigma1=1,
    sigma2=1,
    loss: str = "mse",
    reduction: str = "sum",
    weight_decay=0,
    clip=None,
    eval_inputs: Sequence[Sequence] = (),
) -> Program:
    """SGD on the μP 1-hidden-layer linear network with d inputs and d_o outputs, written as
    a Tensor Program (the conventions of ``tensorprog.builders.mlp``; TP4 §6.1, Eq. 16):

    initial vectors U_j ~ N(0, σ₁²) (j = 1..d, columns of W₁ in Θ(1) units) and
    nV_k ~ N(0, σ₂²) (k = 1..d_o, rows of n·W₂); forward ``h = Σ_j ξ_j U_j``,
    ``f_k = mean(nV_k ⊙ h)``; χ = ∂loss/∂f; SGD (TP4 Thm 6.1 with φ = id)
    ``nV_k ← (1−ηλ) nV_k − η Σ_b χ_{b,k} h_b``,
    ``U_j ← (1−ηλ) U_j − η Σ_b ξ_{b,j} Σ_k χ_{b,k} nV_k``.

    ``clip``: rescale the batch gradient to global norm ≤ clip (a Moment per parameter vector
    and a ScalarOp ``clip_t = min(1, clip/‖g‖)``).

    ``inputs``: one length-d sequence per example; ``targets``: one length-d_o sequence per
    example (labels ±1 for ``loss="logistic"``). Outputs, in order: ``f{k}_{t}_{i}`` and
    ``loss_{t}_{i}`` for step t, example i of its batch, then ``f{k}_eval{e}`` after training.
    """
    if loss not in ("mse", "logistic"):
        raise TensorProgError(f"linear1_program supports mse and logistic, not '{loss}'")
    if reduction not in REDUCTIONS:
        raise TensorProgError(f"unknown reduction '{reduction}'", hint="'sum' or 'mean'")
    # numbers only, never evaluated text (read_number parses strings as fractions)
    xs = [[sp.nsimplify(v) if isinstance(v, float) else read_number(v, f"inputs[{i}]")
           for v in ex] for i, ex in enumerate(inputs)]  # fmt: skip
    ys = [[read_number(v, f"targets[{i}]")
           for v in (y if isinstance(y, (list, tuple, np.ndarray)) else [y])]
          for i, y in enumerate(targets)]  # fmt: skip
    if not xs or len(xs) != len(ys) or len(xs) % batch_size:
        raise TensorProgError("give steps × batch_size examples, one target per input")
    d, d_o = len(xs[0]), len(ys[0])
    eta = read_number(lr, "lr")
    decay = 1 - eta * read_number(weight_decay, "weight_decay")
    p = Program(f"linear1_d{d}_do{d_o}")
    U = [p.vector(f"U{j + 1}_0", var=read_number(sigma1, "sigma1") ** 2) for j in range(d)]
    nV = [p.vector(f"nV{k + 1}_0", var=read_number(sigma2, "sigma2") ** 2) for k in range(d_o)]
    T = len(xs) // batch_size
    for t in range(T):
        hs, chis = [], []
        for i in range(batch_size):
            xi, y = xs[t * batch_size + i], ys[t * batch_size + i]
            h = p.nonlin(f"h_{t}_{i}", sp.Add(*[c * u for c, u in zip(xi, U)]))
            fs = [p.moment(f"f{k + 1}_{t}_{i}", nV[k] * h) for k in range(d_o)]
            if loss == "mse":
                chi = [p.scalar_op(f"chi{k + 1}_{t}_{i}", fs[k] - y[k]) for k in range(d_o)]
                lval = sp.Add(*[(fs[k] - y[k]) ** 2 for k in range(d_o)]) / 2
            else:
                chi = [p.scalar_op(f"chi{k + 1}_{t}_{i}", -y[k] / (1 + sp.exp(y[k] * fs[k])))
                       for k in range(d_o)]  # fmt: skip
                lval = sp.Add(*[sp.log(1 + sp.exp(-y[k] * fs[k])) for k in range(d_o)])
            p.scalar_op(f"loss_{t}_{i}", lval)
            p.output(*[f.name for f in fs], f"loss_{t}_{i}")
            hs.append(h)
            chis.append(chi)
        if t + 1 == T and not eval_inputs:
            break
        r = sp.Rational(1, batch_size) if reduction == "mean" else sp.Integer(1)
        batch = xs[t * batch_size:(t + 1) * batch_size]
        back = [sp.Add(*[c[k] * nV[k] for k in range(d_o)]) for c in chis]  # dh_b = Σ_k χ nV_k
        gV = [r * sp.Add(*[c[k] * h for c, h in zip(chis, hs)]) for k in range(d_o)]
        gU = [r * sp.Add(*[ex[j] * g for ex, g in zip(batch, back)]) for j in range(d)]
        step = eta
        if clip is not None:
            # ‖∇W‖² in standard coordinates = Σ mean((n-scaled gradient)²): Moments.
            sq = sp.Add(*[p.moment(f"gsq{q}_{t}", g * g) for q, g in enumerate(gV + gU)])
            bound = read_number(clip, "clip")
            step = eta * p.scalar_op(f"clip_{t}", sp.Min(1, bound / sp.sqrt(sq)))
        newV = [p.nonlin(f"nV{k + 1}_{t + 1}", decay * nV[k] - step * gV[k]) for k in range(d_o)]
        U = [p.nonlin(f"U{j + 1}_{t + 1}", decay * U[j] - step * gU[j]) for j in range(d)]
        nV = newV
    for e, xi in enumerate(eval_inputs):
        cs = [read_number(c, f"eval_inputs[{e}]") for c in xi]
        h = p.nonlin(f"h_eval{e}", sp.Add(*[c * u for c, u in zip(cs, U)]))
        p.output(*[p.moment(f"f{k + 1}_eval{e}", nV[k] * h).name for k in range(d_o)])
    return p
