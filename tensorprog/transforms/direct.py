"""The direct finite-width trainer of a model description: real n × n matrices, real backprop,
numpy. The reference :func:`~tensorprog.transforms.train_program` is checked against, so it shares
none of its rules: gradients here are the ordinary (unscaled) ones, derivatives come from
sympy's own ``diff`` evaluated by ``lambdify``, matrices are actual arrays updated in place.

Parameters move as in :mod:`tensorprog.transforms.train`: a trainable vector P by
``−η·lr_P·n∇_P L``, a trainable matrix by ``−η·lr_W·∇_W L`` (μP with the program's Θ(1) units),
with the same clipping, weight decay and momentum conventions. ``decoupled=True`` keeps for each
matrix a separate backward matrix B = a·W̃ + ΔWᵀ (W̃ an independent copy of W₀ᵀ) that receives the
transposed updates (TP4, Yang & Hu, arXiv:2011.14522, §6.2).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from scipy.special import erf as _erf

from ..errors import TensorProgError
from ..ir import InitMatrix, InitScalar, InitVector, MatMul, Moment, Nonlin, Program, ScalarOp
from .train import TrainSpec, initial_name, tilde_name, train_spec


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


_MODULES = [
    {
        "relu": lambda x: np.maximum(x, 0.0),
        "sigmoid": _sigmoid,
        "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
        "silu": lambda x: x * _sigmoid(x),
        "Heaviside": lambda x, h0=0.5: np.heaviside(x, h0),
        "erf": _erf,
    },
    "numpy",
]


@functools.lru_cache(maxsize=4096)
def _lambdify(args: tuple, expr: sp.Expr):
    # lambdify prints the (whitelisted, parser- or API-built) expression to numpy code; cached
    # because building it costs far more than one evaluation
    return sp.lambdify(args, expr, modules=_MODULES)


class _Fn:
    """A node expression and its partial derivatives as numpy functions of the node's
    arguments (sympy diff + lambdify: independent of the transformation's differentiator)."""

    def __init__(self, expr: sp.Expr, name: str) -> None:
        self.args = sorted(expr.free_symbols, key=lambda s: s.name)
        self.names = [s.name for s in self.args]
        self.f = _lambdify(tuple(self.args), expr)
        self.expr, self.node = expr, name
        self.d: dict[str, Any] = {}

    def __call__(self, env):
        return self.f(*[env[n] for n in self.names])

    def grad(self, env, name):
        if name not in self.d:
            ds = sp.diff(self.expr, sp.Symbol(name, real=True))
            if ds.has(sp.DiracDelta, sp.Derivative, sp.Subs):
                raise TensorProgError(f"node '{self.node}': cannot differentiate in {name}")
            self.d[name] = _lambdify(tuple(self.args), ds)
        return self.d[name](*[env[n] for n in self.names])


@dataclass
class DirectResult:
    """A finite-width training run: every output of the training program by name."""

    width: int
    values: dict[str, float] = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)

    def outputs(self) -> dict[str, float]:
        return dict(self.values)


def _sub_factors(M: np.ndarray, rate: float, left: np.ndarray, right: np.ndarray) -> None:
    """M -= rate · left @ right in place, in row blocks (no n × n temporary)."""
    if left.shape[1] == 0:
        return
    step = max(1, (1 << 21) // max(1, M.shape[1]))
    for r in range(0, M.shape[0], step):
        M[r : r + step] -= (rate * left[r : r + step]) @ right


class _Direct:
    def __init__(self, model: Program, spec: TrainSpec, width: int, draws, rng) -> None:
        self.model, self.spec, self.n = model, spec, width
        self.nodes = model.nodes
        self.fns = {
            nd.name: _Fn(nd.expr, nd.name)
            for nd in self.nodes
            if isinstance(nd, (Nonlin, Moment, ScalarOp))
        }
        self.active: set[str] = set()
        for nd in self.nodes:
            deps = {s.name for s in getattr(nd, "expr", sp.S.Zero).free_symbols}
            if isinstance(nd, MatMul):
                deps = {nd.matrix, nd.vector}
            if nd.name in model.params or deps & self.active:
                self.active.add(nd.name)
        draws = dict(draws or {})
        rng = np.random.default_rng(rng)
        n = width
        self.vals: dict[str, Any] = {}  # current parameters / frozen objects
        self.back: dict[str, np.ndarray] = {}  # decoupled backward matrices
        used: set[str] = set()
        for nd in self.nodes:
            if isinstance(nd, InitVector):
                key = initial_name(model, nd.name)
                if key in draws:
                    self.vals[nd.name] = np.array(draws[key], float)
                    used.add(key)
                elif nd.cov:
                    raise TensorProgError(
                        f"correlated initial vector '{nd.name}' needs a draw",
                        hint="pass draws for all initial vectors",
                    )
                else:
                    self.vals[nd.name] = rng.standard_normal(n) * math.sqrt(float(nd.var))
            elif isinstance(nd, InitMatrix):
                for key, dest in [(nd.name, self.vals), (tilde_name(nd.name), self.back)]:
                    if dest is self.back and not spec.decoupled:
                        continue
                    if key in draws:
                        dest[nd.name] = np.array(draws[key], float)
                        used.add(key)
                    else:
                        dest[nd.name] = rng.standard_normal((n, n)) * math.sqrt(
                            float(nd.var) / n
                        )
            elif isinstance(nd, InitScalar) and nd.name not in model.inputs:
                self.vals[nd.name] = float(nd.value)
        extra = set(draws) - used
        if extra:
            raise TensorProgError(
                f"draws for unknown objects: {', '.join(sorted(extra))}",
                hint="draws are keyed by the training program's initial names (P_0, W, Wtilde)",
            )
        self.mom: dict[str, np.ndarray] = {}
        self.mom_back: dict[str, np.ndarray] = {}

    # forward: every node's value
    def forward(self, xs) -> dict[str, Any]:
        env: dict[str, Any] = dict(self.vals)
        for name, v in zip(self.model.inputs, xs):
            env[name] = float(v)
        for nd in self.nodes:
            if isinstance(nd, MatMul):
                W = self.vals[nd.matrix]
                env[nd.name] = (W.T if nd.transpose else W) @ env[nd.vector]
            elif isinstance(nd, Nonlin):
                env[nd.name] = np.broadcast_to(np.asarray(self.fns[nd.name](env), float),
                                               (self.n,)).copy()  # fmt: skip
            elif isinstance(nd, Moment):
                env[nd.name] = float(np.mean(self.fns[nd.name](env)))
            elif isinstance(nd, ScalarOp):
                env[nd.name] = float(self.fns[nd.name](env))
        return env

    # backward: ordinary gradients of ``seed · outputs`` w.r.t. every parameter
    def backward(self, env, seeds: dict[str, float]) -> dict[str, np.ndarray]:
        n = self.n
        adj: dict[str, Any] = {}
        for o, s in seeds.items():
            adj[o] = adj.get(o, 0.0) + s
        grads: dict[str, np.ndarray] = {}
        for nd in reversed(self.nodes):
            a = adj.pop(nd.name, None)
            if a is None:
                continue
            if isinstance(nd, InitVector):
                if nd.name in self.model.params:
                    grads[nd.name] = np.broadcast_to(a, (n,)).astype(float)
            elif isinstance(nd, MatMul):
                W = self.vals[nd.matrix]
                if self.spec.decoupled:
                    B = self.back[nd.matrix]
                    dx = (B.T if nd.transpose else B) @ a
                else:
                    dx = (W if nd.transpose else W.T) @ a
                adj[nd.vector] = adj.get(nd.vector, 0.0) + dx
                if nd.matrix in self.model.params:
                    # ∇_W = h̄ xᵀ (x h̄ᵀ for Wᵀ x): kept as its rank-one factors, summed
                    # densely once per step (an n × n temporary per use is slow at n = 8192)
                    pair = (env[nd.vector], a) if nd.transpose else (a, env[nd.vector])
                    grads.setdefault(nd.matrix, []).append(pair)
            elif isinstance(nd, (Nonlin, Moment, ScalarOp)):
                fn = self.fns[nd.name]
                for arg in fn.names:
                    if arg not in self.active:
                        continue  # constants of the run: inputs, frozen objects
                    d = fn.grad(env, arg)
                    vec_arg = isinstance(env[arg], np.ndarray)
                    if isinstance(nd, Nonlin):
                        contrib = a * d if vec_arg else float(np.sum(a * d))
                    elif isinstance(nd, Moment):
                        contrib = a * np.asarray(d, float) / n if vec_arg else a * float(
                            np.mean(d)
                        )
                        if vec_arg:
                            contrib = np.broadcast_to(contrib, (n,))
                    else:
                        contrib = a * float(d)
                    adj[arg] = adj.get(arg, 0.0) + contrib
        return grads

    def loss(self, f: float, y: float) -> tuple[float, float]:
        if self.spec.loss == "mse":
            return 0.5 * (f - y) ** 2, f - y
        return float(np.logaddexp(0.0, -y * f)), float(-y / (1.0 + math.exp(y * f)))

    def step(self, batch_grads: list[dict], need_next: bool) -> None:
        spec, n, model = self.spec, self.n, self.model
        eta, beta = float(spec.lr), float(spec.momentum)
        lam = float(spec.weight_decay)
        red = len(batch_grads) if spec.batch_reduction == "mean" else 1
        dense = bool(lam or beta)
        G: dict[str, Any] = {}
        sq = 0.0
        for P, prm in model.params.items():
            if prm.role == "hidden":
                pairs = [pr for g in batch_grads for pr in g.get(P, [])]
                left = np.stack([u for u, _ in pairs], axis=1) / red if pairs else np.zeros((n, 0))
                right = np.stack([v for _, v in pairs], axis=0) if pairs else np.zeros((0, n))
                # ‖∇_W L‖²_F = Σ_jk (u_j·u_k)(v_j·v_k), from the factors
                if spec.clip_norm is not None:
                    sq += float(np.sum((left.T @ left) * (right @ right.T)))
                G[P] = left @ right if dense else (left, right)
            else:
                parts = [g[P] for g in batch_grads if P in g]
                tot = sum(parts) / red if parts else np.zeros_like(self.vals[P])
                G[P] = tot * n  # vectors move by n∇ (their Θ(1) units)
                if spec.clip_norm is not None:
                    sq += float(np.mean(G[P] ** 2))
        clip = 1.0
        if spec.clip_norm is not None:
            clip = min(1.0, float(spec.clip_norm) / math.sqrt(sq))
        for P, prm in model.params.items():
            rate = eta * float(prm.lr)
            decoupled = prm.role == "hidden" and spec.decoupled and P in self.back
            if prm.role == "hidden" and not dense:
                left, right = G[P]
                _sub_factors(self.vals[P], rate * clip, left, right)
                if decoupled:
                    _sub_factors(self.back[P], rate * clip, right.T, left.T)
                continue
            targets = [(self.vals, self.mom, G[P])]
            if decoupled:
                targets.append((self.back, self.mom_back, G[P].T))
            for store, mom, grad in targets:
                X = store[P]
                g = grad * clip
                if lam:
                    g += lam * X
                if beta:
                    if P in mom:
                        mom[P] *= beta
                        mom[P] += g
                    else:
                        mom[P] = g
                    g = mom[P]
                X -= rate * g  # in place: the arrays are this run's own copies

    def run(self) -> DirectResult:
        spec, model = self.spec, self.model
        res = DirectResult(self.n)
        single = len(model.outputs) == 1
        for t in range(spec.steps):
            batch = []
            losses = []
            for i, k in enumerate(spec.batch(t)):
                tag = spec.tag(t, i)
                env = self.forward(spec.inputs[k])
                seeds, tot = {}, 0.0
                for o, y in zip(model.outputs, spec.targets[k]):
                    ell, chi = self.loss(env[o], float(y))
                    res.values[f"{o}_{tag}"] = env[o]
                    seeds[o] = chi
                    tot += ell
                losses.append((tag, tot))
                batch.append(self.backward(env, seeds if not single else seeds))
            for tag, v in losses:
                res.values[f"loss_{tag}"] = v
            self.step(batch, True)
        for e, xs in enumerate(spec.eval_inputs):
            env = self.forward(xs)
            for o in model.outputs:
                res.values[f"{o}_{spec.steps}_{e}"] = env[o]
        res.params = {P: self.vals[P] for P in model.params}
        return res


def train_direct(
    model: Program,
    data,
    *,
    width: int,
    draws: dict[str, np.ndarray] | None = None,
    rng=None,
    **options,
) -> DirectResult:
    """Train ``model`` at finite ``width`` with actual matrices and ordinary backprop.

    ``options`` are :func:`~tensorprog.transforms.train_program`'s (lr, loss, steps/epochs,
    batch_size, batch_reduction, momentum, weight_decay, clip_norm, decoupled, eval_inputs).
    ``draws``: initial values keyed by the training program's initial names (``P_0`` for a
    trainable vector P, the matrix name, ``Wtilde…`` for decoupled copies), so that
    ``run_finite(train_program(...), width, draws=draws)`` can reproduce the run.
    """
    spec = train_spec(model, data, **options)
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise TensorProgError(f"width must be a positive integer, got {width!r}")
    return _Direct(model, spec, width, draws, rng).run()
