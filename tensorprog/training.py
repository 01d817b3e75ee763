"""A direct finite-width trainer: the actual MLP with real weight matrices, real backprop, SGD.

This is the independent reference the MLP program builder (:mod:`tensorprog.builders.mlp`) is
checked against, so it shares no code with it. It trains the network of TP4 Eq. (1)

    h¹ = W¹ξ,  x^l = φ(h^l),  h^{l+1} = W^{l+1} x^l,  f = W^{L+1} x^L

in an abc-parametrization (TP4 §3; μP is Definition 5.1: a = (−½, 0, …, 0, ½), b = ½, c = 0).
With W^l = n^{-a_l} w^l, w^l ~ N(0, n^{-2 b_l}) and SGD on w with learning rate η n^{-c}, the
actual matrices move by ΔW^l = −η n^{-2 a_l - c} ∇_{W^l} loss. So the trainer keeps the actual
W^l, initializes them with standard deviation σ_l n^{-(a_l + b_l)} and steps them with learning
rate η c_l n^{-2 a_l - c}; for μP that is

    W¹ = U: N(0, σ₁²) entries, lr η c₁ n;   W^l: N(0, σ_l²/n), lr η c_l;
    W^{L+1} = V = nV/n with nV ~ N(0, σ²_{L+1}), lr η c_{L+1} / n.

Gradients are those of the batch loss Σ_i L(f_i, y_i) (or its mean), computed by ordinary
backprop through the batch. ``decoupled=True`` backpropagates through W̃^l + ΔW^lᵀ, with W̃^l
an independent copy of W^l_0ᵀ (TP4 Eq. 20).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import sympy as sp

from .errors import ParametrizationError, TensorProgError
from .expr import fold
from .numpy_algebra import NumpyAlgebra
from .parametrization import PRESETS, ABCParametrization, preset
from .syntax import parse_expression

# abc exponents per parametrization, as functions of the depth L: lists a, b of length L+1
# and the scalar c (TP4 §3.1, Definition 5.1).
_ABC: dict[str, Callable[[int], tuple[list[float], list[float], float]]] = {
    "mup": lambda L: ([-0.5] + [0.0] * (L - 1) + [0.5], [0.5] * (L + 1), 0.0),
}


@dataclass
class TrainResult:
    """One finite-width training run.

    ``f[t, i]`` / ``losses[t, i]``: prediction and loss on example i of step t, before update t;
    ``eval_f[e]``: prediction on eval input e after the last update; ``weights[l]``: the actual
    W^l after training (W¹ = U is n × d, W^{L+1} = V is 1 × n); ``backward[l]``: the decoupled
    backward matrices W̃^l + ΔW^lᵀ (empty unless decoupled).
    """

    width: int
    f: np.ndarray
    losses: np.ndarray
    eval_f: np.ndarray
    weights: dict[int, np.ndarray] = field(default_factory=dict)
    backward: dict[int, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    #: with ``probe_inputs``: ``features[("h"|"x", l, "init"|"final")]`` is the n × k matrix
    #: whose column j is h^l (or x^l) at probe input j before / after training, and
    #: ``features[("f", L+1, "init"|"final")]`` the k outputs f there.
    features: dict[tuple[str, int, str], np.ndarray] = field(default_factory=dict)

    def outputs(self) -> dict[str, float]:
        """The values under the output names of the MLP program: ``f_t``/``loss_t`` (or
        ``f_t_i``/``loss_t_i`` with batches), ``f_T_e``."""
        T, B = self.f.shape
        out: dict[str, float] = {}
        for t in range(T):
            for i in range(B):
                tag = f"{t}" if B == 1 else f"{t}_{i}"
                out[f"f_{tag}"] = float(self.f[t, i])
                out[f"loss_{tag}"] = float(self.losses[t, i])
        for e, v in enumerate(self.eval_f):
            out[f"f_{T}_{e}"] = float(v)
        return out


def _activation(activation) -> tuple[Callable, Callable]:
    """(φ, φ') as numpy functions, from text, a sympy expression in x, or a pair of callables."""
    if isinstance(activation, tuple) and len(activation) == 2 and all(map(callable, activation)):
        return activation
    if isinstance(activation, str):
        activation = parse_expression(activation)
    if not isinstance(activation, sp.Expr):
        raise TensorProgError(
            f"activation must be text, a sympy expression or (φ, φ'), "
            f"got {type(activation).__name__}"
        )
    names = {s.name for s in activation.free_symbols}
    if names - {"x"}:
        raise TensorProgError(f"the activation may only use x, not {sorted(names - {'x'})}")
    xs = [s for s in activation.free_symbols]
    if not xs:
        raise TensorProgError(f"the activation {activation} is constant")
    dphi = sp.diff(activation, xs[0])

    def lift(e: sp.Expr) -> Callable[[np.ndarray], np.ndarray]:
        def f(v: np.ndarray) -> np.ndarray:
            # the package's one numpy algebra (as at finite width and in numeric limits)
            alg = NumpyAlgebra({"x": v}, what="in the activation")
            return np.broadcast_to(np.asarray(fold(e, alg), float), v.shape)

        return f

    return lift(activation), lift(dphi)


def _num(v, what: str) -> float:
    if isinstance(v, str):
        try:
            v = Fraction(v.strip())
        except (ValueError, ZeroDivisionError):
            raise TensorProgError(f"{what}: cannot read {v!r} as a number") from None
    try:
        out = float(v)
    except (TypeError, ValueError):
        raise TensorProgError(f"{what}: expected a number, got {v!r}") from None
    if not math.isfinite(out):
        raise TensorProgError(f"{what}: {v!r} is not finite")
    return out


def _examples(xs, what: str) -> np.ndarray:
    rows = []
    for k, v in enumerate(xs):
        if isinstance(v, (Sequence, np.ndarray)) and not isinstance(v, str):
            rows.append([_num(c, f"{what}[{k}]") for c in v])
        else:
            rows.append([_num(v, f"{what}[{k}]")])
    if rows and len({len(r) for r in rows}) != 1:
        raise TensorProgError(f"all {what} need the same dimension")
    return np.array(rows, dtype=float)


def loss_functions(kind: str) -> tuple[Callable, Callable]:
    """(loss, dloss/df) of ``kind`` as numpy functions of (f, y); logistic without overflow."""
    if kind == "mse":
        return (lambda f, y: 0.5 * (f - y) ** 2), (lambda f, y: f - y)
    if kind == "logistic":
        # log(1 + e^{-yf}) and its f-derivative -y σ(-yf), written to avoid overflow.
        return (
            lambda f, y: np.logaddexp(0.0, -y * f),
            lambda f, y: -y * 0.5 * (1.0 - np.tanh(0.5 * y * f)),
        )
    raise TensorProgError(f"unknown loss '{kind}'", hint="one of: mse, logistic")


def _sub_outer(M: np.ndarray, rate: float, A: np.ndarray, B: np.ndarray) -> None:
    """M -= rate · A Bᵀ in place, in row blocks (no n × n temporary: at n = 4096 fresh
    128 MB arrays cost more than the arithmetic)."""
    step = max(1, (1 << 21) // max(1, M.shape[1]))
    for r in range(0, M.shape[0], step):
        M[r : r + step] -= (rate * A[r : r + step]) @ B.T


def _exponents(parametrization, L: int) -> tuple[tuple[list[float], list[float], float], str]:
    """(a, b, c) as floats and a display name, from a name or an ABCParametrization."""
    if isinstance(parametrization, str) and parametrization in _ABC:
        return _ABC[parametrization](L), parametrization  # μP: the original float table
    if isinstance(parametrization, str):
        # Canonical preset names only (no aliases such as "ntk"), as in the program builder.
        if parametrization not in PRESETS:
            raise TensorProgError(
                f"unknown parametrization '{parametrization}'",
                hint=f"one of: {', '.join(PRESETS)}, or an ABCParametrization",
            )
        try:
            p = preset(parametrization, L)
        except ParametrizationError as e:
            raise TensorProgError(e.message, hint=e.hint) from None
    elif isinstance(parametrization, ABCParametrization):
        p = parametrization
        if p.depth != L:
            raise TensorProgError(
                f"the parametrization has exponents for depth {p.depth}, but depth = {L}",
                hint="give a_l, b_l for the L+1 layers of this network",
            )
    else:
        raise TensorProgError(
            f"parametrization must be a preset name or an ABCParametrization, "
            f"got {type(parametrization).__name__}"
        )
    abc = ([float(x) for x in p.a], [float(x) for x in p.b], float(p.c))
    return abc, p.name or str(p)


def _u_names(d: int) -> list[str]:
    return ["U_0"] if d == 1 else [f"U{j + 1}_0" for j in range(d)]


def train_mlp(
    depth: int,
    activation,
    inputs,
    targets,
    lr,
    *,
    width: int,
    seed: int | np.random.Generator | None = None,
    draws: dict[str, np.ndarray] | None = None,
    parametrization: str = "mup",
    loss: str = "mse",
    batch_size: int = 1,
    batch_reduction: str = "sum",
    decoupled: bool = False,
    eval_inputs=None,
    init_multipliers=None,
    lr_multipliers=None,
    probe_inputs=None,
) -> TrainResult:
    """Train the real width-``width`` MLP by SGD and record f, the loss and eval outputs.

    Arguments mean what they mean for :func:`tensorprog.builders.mlp_program`, except that
    ``parametrization`` may be any abc-parametrization: ``"mup"``, another preset name of
    :func:`tensorprog.parametrization.preset` (``"ntp"``, ``"sp"``, ``"sp_lr_1/n"``, ``"ip"``,
    ``"mfp"``) or an :class:`~tensorprog.parametrization.ABCParametrization` of depth ``depth``.
    The actual matrices then start with std σ_l n^{-(a_l+b_l)} and move with learning rate
    η c_l n^{-(2a_l+c)} (σ_l, c_l the multipliers); nothing checks stability, so an unstable
    parametrization blows up at large width as TP4 Theorem 3.3 predicts.
    ``probe_inputs``: inputs at which the hidden features h^l, x^l are recorded before the
    first and after the last update (``TrainResult.features``). Randomness comes
    from ``seed`` (a numpy Generator seed), except for entries of ``draws``, keyed like the MLP
    program's initial objects: ``U_0`` (d = 1) or ``U1_0``…``Ud_0`` — the columns of W¹;
    ``nV_0`` — n·W^{L+1}; ``W2``…``WL`` — the actual initial hidden matrices; ``Wtilde2``… —
    the decoupled backward matrices (used as ``Wtilde @ dh``). Drawn values are used as given
    (already including any init multiplier).
    """
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise TensorProgError(f"depth must be an integer >= 1, got {depth!r}")
    exponents, pname = _exponents(parametrization, int(depth))
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise TensorProgError(f"width must be a positive integer, got {width!r}")
    if batch_reduction not in ("sum", "mean"):
        raise TensorProgError(f"unknown batch reduction '{batch_reduction}'")
    L, n = int(depth), int(width)
    phi, dphi = _activation(activation)
    loss_fn, dloss_fn = loss_functions(loss)
    Xi = _examples(inputs, "inputs")
    Y = np.array([_num(y, f"targets[{k}]") for k, y in enumerate(targets)], dtype=float)
    if len(Xi) == 0 or len(Y) != len(Xi) or len(Xi) % batch_size:
        raise TensorProgError(
            f"need a nonzero multiple of batch_size={batch_size} examples and one target each "
            f"(got {len(Xi)} inputs, {len(Y)} targets)"
        )
    d = Xi.shape[1]
    Xe = _examples(eval_inputs, "eval_inputs") if eval_inputs else np.zeros((0, d))
    if len(Xe) and Xe.shape[1] != d:
        raise TensorProgError(f"eval_inputs have dimension {Xe.shape[1]}, inputs {d}")
    Xp = _examples(probe_inputs, "probe_inputs") if probe_inputs else np.zeros((0, d))
    if len(Xp) and Xp.shape[1] != d:
        raise TensorProgError(f"probe_inputs have dimension {Xp.shape[1]}, inputs {d}")
    sig = [1.0] * (L + 1) if init_multipliers is None else [
        _num(v, "init_multipliers") for v in init_multipliers
    ]
    lrm = [1.0] * (L + 1) if lr_multipliers is None else [
        _num(v, "lr_multipliers") for v in lr_multipliers
    ]
    if len(sig) != L + 1 or len(lrm) != L + 1:
        raise TensorProgError(f"multipliers need {L + 1} entries (layers 1..L+1)")
    eta = _num(lr, "lr")

    a, b, c = exponents
    std = [sig[i] * n ** (-(a[i] + b[i])) for i in range(L + 1)]
    rate = [eta * lrm[i] * n ** (-2 * a[i] - c) for i in range(L + 1)]

    # ---- initialization (sampling order: U columns, nV, hidden matrices, decoupled copies)
    rng = np.random.default_rng(seed)
    draws = dict(draws or {})
    names = _u_names(d) + ["nV_0"] + [f"W{l}" for l in range(2, L + 1)]
    if decoupled:
        names += [f"Wtilde{l}" for l in range(2, L + 1)]
    unknown = sorted(set(draws) - set(names))
    if unknown:
        raise TensorProgError(
            f"draws has unknown names {unknown}", hint=f"expected names among {names}"
        )

    def take(name: str, shape: tuple[int, ...], s: float) -> np.ndarray:
        if name in draws:
            arr = np.array(draws[name], dtype=float)
            if arr.shape != shape:
                raise TensorProgError(f"draws['{name}'] has shape {arr.shape}, need {shape}")
            return arr
        return rng.standard_normal(shape) * s

    W: dict[int, np.ndarray] = {}
    W[1] = np.stack([take(nm, (n,), std[0]) for nm in _u_names(d)], axis=1)  # n × d
    nV0 = take("nV_0", (n,), std[L] * n)
    for l in range(2, L + 1):
        W[l] = take(f"W{l}", (n, n), std[l - 1])
    W[L + 1] = (nV0 / n)[None, :]  # 1 × n
    back: dict[int, np.ndarray] = {}
    for l in range(2, L + 1):
        # The matrix that multiplies dh^l in backprop: W^lᵀ, or W̃^l (+ ΔW^lᵀ) when decoupled.
        back[l] = take(f"Wtilde{l}", (n, n), std[l - 1]) if decoupled else None

    def forward(xi: np.ndarray) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], np.ndarray]:
        """Columns are examples: returns preactivations, activations (x[0] = ξ), f."""
        H: dict[int, np.ndarray] = {}
        Xs: dict[int, np.ndarray] = {0: xi.T}
        for l in range(1, L + 1):
            H[l] = W[l] @ Xs[l - 1]
            Xs[l] = phi(H[l])
        return H, Xs, (W[L + 1] @ Xs[L])[0]

    features: dict[tuple[str, int, str], np.ndarray] = {}
    if len(Xp):
        H, Xs, f0p = forward(Xp)
        for l in range(1, L + 1):
            features["h", l, "init"], features["x", l, "init"] = H[l], Xs[l]
        features["f", L + 1, "init"] = np.asarray(f0p, float)

    B = batch_size
    T = len(Xi) // B
    F = np.zeros((T, B))
    LOSS = np.zeros((T, B))
    for t in range(T):
        xi, y = Xi[t * B : (t + 1) * B], Y[t * B : (t + 1) * B]
        H, Xs, f = forward(xi)
        F[t], LOSS[t] = f, loss_fn(f, y)
        # ---- backprop of the batch loss
        g = dloss_fn(f, y) / (B if batch_reduction == "mean" else 1)  # ∂loss/∂f_i
        # ∇_{W^l} loss = δ^l (x^{l-1})ᵀ, kept as its two factors (a rank-B outer product).
        grads: dict[int, tuple[np.ndarray, np.ndarray]] = {L + 1: (g[None, :], Xs[L])}
        delta = W[L + 1].T @ g[None, :]  # ∂loss/∂x^L, n × B
        for l in range(L, 0, -1):
            delta = delta * dphi(H[l])  # ∂loss/∂h^l
            grads[l] = (delta, Xs[l - 1])
            if l >= 2:
                delta = (back[l] if decoupled else W[l].T) @ delta
        # ---- SGD: all gradients were taken at W_t; now step every layer.
        for l in range(1, L + 2):
            dl, xl = grads[l]
            _sub_outer(W[l], rate[l - 1], dl, xl)
            if decoupled and 2 <= l <= L:
                _sub_outer(back[l], rate[l - 1], xl, dl)  # ΔWᵀ joins the backward matrix
    ef = forward(Xe)[2] if len(Xe) else np.zeros(0)
    if len(Xp):
        H, Xs, fTp = forward(Xp)
        for l in range(1, L + 1):
            features["h", l, "final"], features["x", l, "final"] = H[l], Xs[l]
        features["f", L + 1, "final"] = np.asarray(fTp, float)
    meta = {"depth": L, "parametrization": pname, "loss": loss, "decoupled": decoupled}
    backs = {l: m for l, m in back.items() if m is not None}
    return TrainResult(n, F, LOSS, np.asarray(ef, float), W, backs, meta, features)
