"""Reverse-mode autodiff over Tensor Programs: a model description (forward pass only) becomes
the Tensor Program of its whole first-order training run.

Conventions (TP4, Yang & Hu, arXiv:2011.14522, §6–§7; μP = Def. 5.1 with all constants 1):

* Cotangents are n-scaled, ḡ = n ∂f/∂v, so every vector stays Θ(1) (TP4 §6). One VJP rule per
  node kind (:data:`VJP_RULES`): Nonlin — coordinatewise partial derivatives; Moment — broadcast
  of the scalar cotangent (the 1/n of the mean and the n of the scaling cancel); ScalarOp —
  chain rule; MatMul ``h = W x`` — ``x̄ += W_tᵀ h̄`` (the other orientation: ZDot appears exactly
  here) and a rank-one term ``h̄ xᵀ/n`` in W's gradient.
* Updates: every trainable vector P moves by ``−η·lr_P·n∇_P L`` (its n-scaled gradient) and every
  trainable matrix by ``−η·lr_W·∇_W L``: with all multipliers 1 this is μP SGD.
* Matrices are never materialized: ``W_t = a_t W_0 + Σ_s c_s g_s v_sᵀ/n`` is kept as a history
  of rank-one terms, so ``W_t x = a_t W_0 x + Σ_s c_s g_s (v_s·x)/n`` (TP4 Eq. 24) and likewise
  ``W_tᵀ y``; a matrix used k times in one forward pass (weight sharing, RNN) gains k terms per
  example. ``decoupled=True`` backpropagates through an independent copy W̃ of W₀ᵀ (TP4 §6.2).
* Earlier steps' vectors and loss derivatives are constants of the current step (stop-gradient):
  each step's backward pass only walks that step's forward pass.
* Loss of an example: the sum over the model's outputs of ``mse`` ½(f−y)² or ``logistic``
  log(1+e^{−yf}) (labels ±1); a batch's gradient is the sum (``batch_reduction="sum"``) or the
  mean of its examples' gradients.
* Optimizer (PyTorch SGD conventions): ``G`` = the gradient; with ``clip_norm`` c it is scaled by
  ``min(1, c/‖G‖)``, ‖G‖² = Σ_P mean((n∇_P L)²) + Σ_W ‖∇_W L‖²_F (each parameter in its Θ(1)
  units; computed from Moments); ``g = G + λ·param`` (weight decay λ); with momentum β the buffer
  ``m ← β m + g`` (m₀ = g) replaces g; ``param ← param − η·lr_P·(m or g)``.

Output names follow ``mlp_program``: ``{o}_{t}`` (model output o on step t's example, before
update t; ``{o}_{t}_{i}`` for example i of a batch), ``loss_{t}`` (``loss_{t}_{i}``), and
``{o}_{T}_{e}`` for eval input e after the last of the T updates.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import attrgetter

import sympy as sp
from sympy.core.basic import _args_sortkey

from ..errors import ProgramError, TensorProgError
from ..ir import (
    InitMatrix,
    InitScalar,
    InitVector,
    MatMul,
    Moment,
    Node,
    Nonlin,
    Program,
    ScalarOp,
    sym,
)
from .data import is_sequence, read_number, read_row
from .diff import derivative

LOSSES = ("mse", "logistic")
BATCH_REDUCTIONS = ("sum", "mean")


def loss_terms(kind: str, f: sp.Expr, y: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(loss, dloss/df): MSE ½(f−y)², χ = f − y; logistic log(1+e^{−yf}), χ = −y/(1+e^{yf})."""
    if kind == "mse":
        return (f - y) ** 2 / 2, f - y
    return sp.log(1 + sp.exp(-y * f)), -y / (1 + sp.exp(y * f))


def initial_name(model: Program, name: str) -> str:
    """The training program's name for a model's initial object: ``P_0`` for a trainable
    vector P (its later values are ``P_1``, …), the model's name otherwise."""
    p = model.params.get(name)
    if p is not None and p.role != "hidden":
        return f"{name}_0"
    return name


def tilde_name(matrix: str) -> str:
    """The independent copy of W₀ᵀ used by decoupled backprop: ``W2`` → ``Wtilde2``."""
    return f"Wtilde{matrix[1:]}" if matrix.startswith("W") else f"{matrix}tilde"


# --------------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class TrainSpec:
    """Validated training options (numbers are sympy numbers, exact when given exactly)."""

    inputs: tuple[tuple[sp.Expr, ...], ...]
    targets: tuple[tuple[sp.Expr, ...], ...]
    lr: sp.Expr
    steps: int
    loss: str = "mse"
    batch_size: int = 1
    batch_reduction: str = "sum"
    momentum: sp.Expr = sp.S.Zero
    weight_decay: sp.Expr = sp.S.Zero
    clip_norm: sp.Expr | None = None
    decoupled: bool = False
    eval_inputs: tuple[tuple[sp.Expr, ...], ...] = ()

    def batch(self, t: int) -> list[int]:
        """Example indices of step t (the data is cycled through)."""
        per = len(self.inputs) // self.batch_size
        b = t % per
        return list(range(b * self.batch_size, (b + 1) * self.batch_size))

    def tag(self, t: int, i: int) -> str:
        return f"{t}" if self.batch_size == 1 else f"{t}_{i}"


def _nonneg(value, what: str) -> sp.Expr:
    v = read_number(value, what)
    if v.is_negative:
        raise TensorProgError(f"{what} must be >= 0, got {v}")
    return v


def _int(value, what: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise TensorProgError(f"{what} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_model(model: Program) -> None:
    """Refuse what cannot be trained: no outputs, non-scalar outputs, no parameters."""
    if not isinstance(model, Program):
        raise TensorProgError(f"the model must be a Program, got {type(model).__name__}")
    if not model.outputs:
        raise ProgramError(
            f"the model '{model.name}' has no output", hint="mark the prediction with output f"
        )
    for o in model.outputs:
        if model.kind(o) != "scalar":
            raise ProgramError(
                f"output '{o}' is a {model.kind(o)}; a trained model's outputs are scalars",
                loc=model.node(o).loc,
                hint=f"predict with a scalar, e.g. f = mean(nV * {o})",
            )
    if not model.params:
        raise ProgramError(
            f"the model '{model.name}' declares no trainable parameter",
            hint="declare them with Program.param_vector / param_matrix "
            "(`param vector` / `param matrix` in .tp)",
        )


def check_loss(loss: str, batch_reduction: str) -> None:
    """Refuse an unknown loss or batch reduction, naming the choices."""
    if loss not in LOSSES:
        raise TensorProgError(f"unknown loss '{loss}'", hint=f"one of: {', '.join(LOSSES)}")
    if batch_reduction not in BATCH_REDUCTIONS:
        raise TensorProgError(
            f"unknown batch reduction '{batch_reduction}'",
            hint=f"one of: {', '.join(BATCH_REDUCTIONS)}",
        )


def train_spec(
    model: Program,
    data,
    *,
    loss: str = "mse",
    lr,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int = 1,
    batch_reduction: str = "sum",
    momentum=0,
    weight_decay=0,
    clip_norm=None,
    decoupled: bool = False,
    eval_inputs=(),
) -> TrainSpec:
    """Validate the arguments of :func:`train_program` (see there)."""
    check_model(model)
    check_loss(loss, batch_reduction)
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TensorProgError("data must be a pair (input rows, targets)")
    rows, targets = data
    k, m = len(model.inputs), len(model.outputs)
    if not is_sequence(rows) or not is_sequence(targets):
        raise TensorProgError("data must be a pair of sequences (input rows, targets)")
    xs = tuple(read_row(r, k, f"inputs[{j}]") for j, r in enumerate(rows))
    ys = tuple(read_row(y, m, f"targets[{j}]") for j, y in enumerate(targets))
    if not xs:
        raise TensorProgError("no training examples", hint="give at least one input row")
    if len(xs) != len(ys):
        raise TensorProgError(
            f"{len(xs)} input rows but {len(ys)} targets",
            hint="give one target per row"
            + (f" (a row of {m} values: the model has {m} outputs)" if m > 1 else ""),
        )
    if loss == "logistic":
        for j, y in enumerate(ys):
            if any(v not in (1, -1) for v in y):
                raise TensorProgError(
                    f"the logistic loss needs labels ±1, but targets[{j}] = "
                    f"{', '.join(map(str, y))}",
                    hint="use labels 1 and -1, or loss='mse'",
                )
    batch_size = _int(batch_size, "batch_size", 1)
    if len(xs) % batch_size:
        raise TensorProgError(
            f"{len(xs)} examples do not split into batches of {batch_size}",
            hint="give a multiple of batch_size examples",
        )
    per_epoch = len(xs) // batch_size
    if steps is not None and epochs is not None:
        raise TensorProgError("give steps or epochs, not both")
    if steps is not None:
        T = _int(steps, "steps", 1)
    else:
        T = per_epoch * _int(1 if epochs is None else epochs, "epochs", 1)
    evals = tuple(read_row(r, k, f"eval_inputs[{j}]") for j, r in enumerate(eval_inputs or ()))
    beta = _nonneg(momentum, "momentum")
    clip = None if clip_norm is None else _nonneg(clip_norm, "clip_norm")
    if clip is not None and clip == 0:
        raise TensorProgError("clip_norm must be > 0")
    return TrainSpec(
        xs, ys, _nonneg(lr, "lr"), T, loss, batch_size, batch_reduction, beta,
        _nonneg(weight_decay, "weight_decay"), clip, bool(decoupled), evals,
    )  # fmt: skip


# --------------------------------------------------------------------------- state
@dataclass
class _Mat:
    """A matrix W_t = a W₀ + Σ_k c_k g_k v_kᵀ/n; with momentum its buffer is
    ma W₀ + Σ_k mc_k g_k v_kᵀ/n (``hist[k] = [c_k, g_k, v_k, mc_k]``)."""

    name: str
    trainable: bool
    lr: sp.Expr
    a: sp.Expr = sp.S.One
    ma: sp.Expr = sp.S.Zero
    hist: list[list] = field(default_factory=list)

    def copy(self) -> _Mat:
        return _Mat(self.name, self.trainable, self.lr, self.a, self.ma,
                    [list(h) for h in self.hist])  # fmt: skip


@dataclass
class _State:
    """Current parameter values: trainable vectors (program symbols), momentum buffers,
    matrices (coefficient histories)."""

    vec: dict[str, sp.Expr]
    mom: dict[str, sp.Expr]
    mats: dict[str, _Mat]

    def copy(self) -> _State:
        return _State(dict(self.vec), dict(self.mom), {k: m.copy() for k, m in self.mats.items()})


@dataclass
class _Grads:
    """One example's gradient: n-scaled cotangents of trainable vectors (expressions) and the
    rank-one terms (g, v) of each trainable matrix's gradient Σ g vᵀ/n."""

    vec: dict[str, list[sp.Expr]] = field(default_factory=dict)
    mat: dict[str, list[tuple[sp.Symbol, sp.Symbol]]] = field(default_factory=dict)


# --------------------------------------------------------------------------- VJP rules
def _vjp_nonlin(b: _Builder, node: Nonlin, bar, env, cot, tag) -> None:
    for s in node.expr.free_symbols:
        if s.name not in b.active:
            continue
        d = b.partial(node, s).xreplace(env)
        if b.mkind[s.name] == "vector":
            cot.setdefault(s.name, []).append(bar * d)
        else:  # θ̄ += mean(ḡ ∂φ/∂θ)
            cot.setdefault(s.name, []).append(b.mean(f"{b.dp}{s.name}_{tag}__{node.name}",
                                                     bar * d))


def _vjp_moment(b: _Builder, node: Moment, bar, env, cot, tag) -> None:
    for s in node.expr.free_symbols:
        if s.name not in b.active:
            continue
        d = b.partial(node, s).xreplace(env)
        if b.mkind[s.name] == "vector":  # ū += θ̄ ∂ψ/∂u (1/n of mean × n of the scaling)
            cot.setdefault(s.name, []).append(bar * d)
        else:
            cot.setdefault(s.name, []).append(
                bar * b.mean(f"{b.dp}{s.name}_{tag}__{node.name}", d)
            )


def _vjp_scalar(b: _Builder, node: ScalarOp, bar, env, cot, tag) -> None:
    for s in node.expr.free_symbols:
        if s.name in b.active:
            cot.setdefault(s.name, []).append(bar * b.partial(node, s).xreplace(env))


def _vjp_matmul(b: _Builder, node: MatMul, bar, env, cot, tag) -> None:
    x = env[sym(node.vector)]
    if node.vector in b.active:
        if not (isinstance(bar, sp.Symbol) and bar.name in b.pvec):
            raise ProgramError(
                f"the cotangent of '{node.name}' is the constant vector {bar}, which a matrix "
                "cannot multiply in a Tensor Program",
                loc=node.loc,
                node=node.name,
                hint=f"read the output through a vector, e.g. mean(nV * {node.name})",
            )
        # x̄ += W_tᵀ h̄: the other orientation's family (ZDot arises here, TP4 §7).
        term = b.apply(b.state.mats[node.matrix], bar, not node.transpose,
                       f"{b.dp}{node.vector}_{tag}__{node.name}", backward=True)  # fmt: skip
        cot.setdefault(node.vector, []).append(term)
    if b.state.mats[node.matrix].trainable:
        pair = (x, bar) if node.transpose else (bar, x)  # ∇_W f = h̄ xᵀ/n (or x h̄ᵀ/n)
        b.grads.mat.setdefault(node.matrix, []).append(pair)


#: One VJP rule per non-initial node kind: (builder, node, n-scaled cotangent, forward
#: environment, cotangent accumulator, example tag).
VJP_RULES: dict[type, Callable] = {
    Nonlin: _vjp_nonlin,
    Moment: _vjp_moment,
    ScalarOp: _vjp_scalar,
    MatMul: _vjp_matmul,
}


# --------------------------------------------------------------------------- the builder
class _Builder:
    def __init__(self, model: Program, spec: TrainSpec, name: str | None = None) -> None:
        self.model, self.spec = model, spec
        self.mnodes: list[Node] = model.nodes
        self.mkind = {n.name: _kind(n) for n in self.mnodes}
        self.p = Program(name or f"train_{model.name}")
        self.pvec: set[str] = set()  # program vectors
        self._partials: dict[tuple[str, str], sp.Expr] = {}
        names = set(self.mkind)
        self.dp = "d" if not any(("d" + n) in names for n in names) else "bar_"
        # Which model nodes depend on a trainable parameter (only those get cotangents).
        self.active: set[str] = set()
        for n in self.mnodes:
            deps = _deps(n)
            if n.name in model.params or any(d in self.active for d in deps):
                self.active.add(n.name)
        self.outputs_active = [o for o in model.outputs if o in self.active]
        self._declare()

    # ---- program helpers
    def vector(self, name: str, expr: sp.Expr) -> sp.Expr:
        """A Nonlin, unless ``expr`` is already a program vector (a copy costs the engine work)
        or involves no vector (a constant vector stays an expression)."""
        if isinstance(expr, sp.Symbol) and expr.name in self.pvec:
            return expr
        deps = tuple(_symbol_names(expr))
        if not any(d in self.pvec for d in deps):
            return expr
        self._add(Nonlin(name, expr), deps)
        self.pvec.add(name)
        return sym(name)

    def scalar(self, name: str, expr: sp.Expr, force: bool = False) -> sp.Expr:
        if not force and (expr.is_Atom):
            return expr
        self._add(ScalarOp(name, expr))
        return sym(name)

    def mean(self, name: str, expr: sp.Expr, deps: tuple[str, ...] | None = None) -> sp.Expr:
        if deps is None:
            deps = tuple({s.name for s in expr.free_symbols})
        if not any(d in self.pvec for d in deps):
            return expr  # the mean of a constant vector
        self._add(Moment(name, expr), deps)
        return sym(name)

    def _add(self, node: Node, deps: tuple[str, ...] | None = None) -> None:
        """Append a generated node. The transformation builds well-typed nodes by construction
        (expressions of its own program symbols, whitelisted heads: the model's and the declared
        derivatives'), so Program.add's per-node re-validation — the dominant build cost at long
        horizons — is replaced by the checks that can still fail: a fresh name whose
        dependencies exist (Program.add_trusted)."""
        self.p.add_trusted(node, deps)

    def partial(self, node: Node, s: sp.Symbol) -> sp.Expr:
        key = (node.name, s.name)
        hit = self._partials.get(key)
        if hit is None:
            hit = self._partials[key] = derivative(node.expr, s, node=node.name)
        return hit

    # ---- initial objects
    def _declare(self) -> None:
        p, model = self.p, self.model
        mats: dict[str, _Mat] = {}
        vec: dict[str, sp.Expr] = {}
        for node in self.mnodes:
            if isinstance(node, InitVector):
                nm = initial_name(model, node.name)
                cov = tuple((initial_name(model, o), c) for o, c in node.cov)
                p.add(InitVector(nm, node.var, cov, node.loc))
                self.pvec.add(nm)
                if node.name in model.params:
                    vec[node.name] = sym(nm)
            elif isinstance(node, InitMatrix):
                p.add(node)
                prm = model.params.get(node.name)
                mats[node.name] = _Mat(node.name, prm is not None,
                                       prm.lr if prm is not None else sp.S.One)  # fmt: skip
            elif isinstance(node, InitScalar) and node.name not in model.inputs:
                p.add(node)
        if self.spec.decoupled:
            # TP4 Eq. (20): backprop through an iid copy W̃ of W₀ᵀ, one per matrix that
            # carries a cotangent.
            self.tildes = {}
            for node in self.mnodes:
                if isinstance(node, MatMul) and node.vector in self.active:
                    if node.matrix not in self.tildes:
                        self.tildes[node.matrix] = tilde_name(node.matrix)
            for node in self.mnodes:
                if isinstance(node, InitMatrix) and node.name in self.tildes:
                    p.add(InitMatrix(self.tildes[node.name], node.var, node.loc))
        self.state = _State(vec, {}, mats)

    # ---- W_t applied to a vector (TP4 Eq. 24)
    def apply(self, m: _Mat, x: sp.Symbol, transpose: bool, name: str, backward: bool):
        if backward and self.spec.decoupled:
            base_m, base_t = self.tildes[m.name], not transpose
        else:
            base_m, base_t = m.name, transpose
        plain = m.a == 1 and not m.hist
        bname = name if plain else f"{name}_W0"
        self._add(MatMul(bname, base_m, x.name, base_t), (base_m, x.name))
        self.pvec.add(bname)
        base = sym(bname)
        if plain:
            return base
        terms = [m.a * base]
        for j, (c, g, v, _mc) in enumerate(m.hist):
            out, inner = (v, g) if transpose else (g, v)
            mom = self.mean(f"{name}_m{j}", _product(inner, x), (inner.name, x.name))
            terms.append(_product(c, mom, out))
        return _sum(terms)

    # ---- one example's forward pass
    def forward(self, state: _State, tag: str, xs: Sequence[sp.Expr]) -> dict:
        env: dict[sp.Symbol, sp.Expr] = {}
        model = self.model
        values = dict(zip(model.inputs, xs))
        self.state = state
        for node in self.mnodes:
            s = sym(node.name)
            if isinstance(node, InitVector):
                env[s] = state.vec.get(node.name, sym(node.name))
            elif isinstance(node, InitScalar):
                env[s] = values[node.name] if node.name in values else s
            elif isinstance(node, InitMatrix):
                continue
            elif isinstance(node, MatMul):
                x = env[sym(node.vector)]
                if not (isinstance(x, sp.Symbol) and x.name in self.pvec):
                    raise ProgramError(
                        f"'{node.name}' multiplies the constant vector {x} by a matrix on "
                        f"example {tag}, which a Tensor Program cannot hold",
                        loc=node.loc,
                        node=node.name,
                        hint="avoid inputs that make the multiplied vector constant (e.g. 0)",
                    )
                nm = f"{node.name}_{tag}"
                env[s] = self.vector(nm, self.apply(state.mats[node.matrix], x,
                                                    node.transpose, nm, backward=False))
            elif isinstance(node, Nonlin):
                env[s] = self.vector(f"{node.name}_{tag}", node.expr.xreplace(env))
            elif isinstance(node, Moment):
                env[s] = self.mean(f"{node.name}_{tag}", node.expr.xreplace(env))
                if not isinstance(env[s], sp.Symbol):
                    env[s] = self.scalar(f"{node.name}_{tag}", env[s])
            elif isinstance(node, ScalarOp):
                e = node.expr.xreplace(env)
                env[s] = self.scalar(f"{node.name}_{tag}", e,
                                     force=node.name in model.outputs)  # fmt: skip
            else:  # pragma: no cover - the IR has no other kinds
                raise ProgramError(f"no forward rule for node kind {type(node).__name__}")
        for o in model.outputs:
            v = env[sym(o)]
            if not (isinstance(v, sp.Symbol) and v.name == f"{o}_{tag}"):
                env[sym(o)] = self.scalar(f"{o}_{tag}", v, force=True)
        self._env = env
        return env

    # ---- one example's backward pass
    def backward(self, env: dict, tag: str, seeds: dict[str, sp.Expr]) -> _Grads:
        self.grads = _Grads()
        cot: dict[str, list[sp.Expr]] = {o: [seeds[o]] for o in self.outputs_active}
        for node in reversed(self.mnodes):
            terms = cot.pop(node.name, None)
            if not terms:
                continue
            total = sp.Add(*terms)
            if isinstance(node, InitVector):
                if node.name in self.model.params:
                    self.grads.vec[node.name] = [total]
                continue
            if isinstance(node, (InitScalar, InitMatrix)):
                continue
            if self.mkind[node.name] == "vector":
                bar = self.vector(f"{self.dp}{node.name}_{tag}", total)
            else:
                bar = self.scalar(f"{self.dp}{node.name}_{tag}", total)
            if bar == 0:
                continue
            rule = VJP_RULES.get(type(node))
            if rule is None:
                raise ProgramError(
                    f"no VJP rule for node kind {type(node).__name__}", node=node.name,
                    hint="train_program differentiates MatMul, Nonlin, Moment and ScalarOp",
                )
            rule(self, node, bar, env, cot, tag)
        return self.grads

    # ---- one example: forward, loss, backward
    def example(self, state: _State, tag: str, xs, ys) -> tuple[_Grads, sp.Expr, list[str]]:
        """Forward + loss + backward; returns (gradient, per-example scale s, f names).
        One output: seed 1 and s = χ; several: seeds χ_o and s = 1."""
        model, spec = self.model, self.spec
        env = self.forward(state, tag, xs)
        fs = [env[sym(o)] for o in model.outputs]
        single = len(model.outputs) == 1
        losses, chis = [], {}
        for o, f, y in zip(model.outputs, fs, ys):
            ell, dl = loss_terms(spec.loss, f, y)
            chis[o] = self.scalar(f"chi_{tag}" if single else f"chi_{o}_{tag}", dl, force=True)
            losses.append(ell)
        self.scalar(f"loss_{tag}", sp.Add(*losses), force=True)
        seeds = {o: (sp.S.One if single else chis[o]) for o in model.outputs}
        grads = self.backward(env, tag, seeds)
        scale = chis[model.outputs[0]] if single else sp.S.One
        return grads, scale, [f.name for f in fs]

    # ---- the update of one step
    def update(self, state: _State, batch: list[tuple[_Grads, sp.Expr]], t: int,
               need_next: bool, spec: TrainSpec | None = None,
               label: str | None = None) -> _State:  # fmt: skip
        """The parameters after one step on ``batch``; ``spec`` overrides the options (MAML's
        inner steps), ``label`` the name suffix of the new nodes (default t + 1)."""
        spec = spec or self.spec
        model = self.model
        eta = spec.lr
        lab = f"{t + 1}" if label is None else label
        red = len(batch) if spec.batch_reduction == "mean" else 1
        beta, lam = spec.momentum, spec.weight_decay
        new = state.copy()
        G: dict[str, sp.Expr] = {}
        for P in state.vec:
            G[P] = sp.Add(*[s / red * sp.Add(*g.vec.get(P, [])) for g, s in batch])
        Gm: dict[str, list[tuple[sp.Expr, sp.Symbol, sp.Symbol]]] = {
            W: [(s / red, gg, v) for g, s in batch for gg, v in g.mat.get(W, [])]
            for W, m in state.mats.items()
            if m.trainable
        }
        clip = sp.S.One
        if spec.clip_norm is not None:
            # Global norm, each parameter in its Θ(1) units (TP4 footnote 44: clipping is a
            # scalar of Moments): ‖G‖² = Σ_P mean(G_P²) + Σ_W Σ_jk c_j c_k (g_j·g_k)(v_j·v_k)/n².
            sq = [self.mean(f"gsq{P}_{lab}", G[P] ** 2) for P in G if G[P] != 0]
            for W, terms in Gm.items():
                for j, (cj, gj, vj) in enumerate(terms):
                    for k, (ck, gk, vk) in enumerate(terms[: j + 1]):
                        mg = self.mean(f"gsq{W}_{lab}_g{j}_{k}", gj * gk)
                        mv = self.mean(f"gsq{W}_{lab}_v{j}_{k}", vj * vk)
                        sq.append((2 if k < j else 1) * cj * ck * mg * mv)
            norm = self.scalar(f"gnorm_{lab}", sp.sqrt(sp.Add(*sq)), force=True)
            clip = self.scalar(f"clip_{lab}", sp.Min(1, spec.clip_norm / norm), force=True)
        for P in state.vec:
            lrP = model.params[P].lr
            g = clip * G[P] + lam * state.vec[P]
            if beta != 0:
                m = g if P not in state.mom else beta * state.mom[P] + g
                if need_next:
                    new.mom[P] = self.vector(f"m{P}_{lab}", m)
                g = new.mom.get(P, m)
            if need_next:
                new.vec[P] = self.vector(f"{P}_{lab}", state.vec[P] - eta * lrP * g)
        for W, terms in Gm.items():
            m = new.mats[W]
            mat_changed = lam != 0 or beta != 0
            rate = eta * m.lr
            # gradient coefficients: λ·(current W) + clip·(new rank-one terms)
            ga = lam * m.a
            # without weight decay and momentum the old terms' coefficients stay as they are
            # (c − rate·0·c = c): skip their O(T) sympy updates each step
            fixed = len(m.hist) if lam is sp.S.Zero and beta == 0 else 0
            gc = [lam * h[0] for h in m.hist[fixed:]]
            for c, gg, v in terms:
                m.hist.append([sp.S.Zero, gg, v, sp.S.Zero])
                gc.append(clip * c)
            if beta != 0:
                m.ma = beta * m.ma + ga
                for h, gk in zip(m.hist, gc):
                    h[3] = beta * h[3] + gk
                ua, uc = m.ma, [h[3] for h in m.hist]
            else:
                ua, uc = ga, gc
            m.a = m.a - rate * ua
            for h, u in zip(m.hist[fixed:], uc):
                h[0] = h[0] - rate * u
            if mat_changed:  # keep coefficient expressions small: one scalar node each
                m.a = self.scalar(f"a{W}_{lab}", m.a)
                m.ma = self.scalar(f"ma{W}_{lab}", m.ma)
                for k, h in enumerate(m.hist):
                    h[0] = self.scalar(f"c{W}_{k}_{lab}", h[0])
                    h[3] = self.scalar(f"mc{W}_{k}_{lab}", h[3])
            else:  # a new term's coefficient is fixed from now on: one scalar node
                for k in range(len(m.hist) - len(terms), len(m.hist)):
                    cname = f"c{W}_{k}" if label is None else f"c{W}_{label}_{k}"
                    m.hist[k][0] = self.scalar(cname, m.hist[k][0])
        return new

    # ---- the whole run
    def build(self, probes: Sequence[Sequence[sp.Expr]] = ()) -> Program:
        with gc_paused():
            return self._build(probes)

    def _build(self, probes: Sequence[Sequence[sp.Expr]]) -> Program:
        spec, p = self.spec, self.p
        state = self.state
        init_state = state.copy()
        self.passes: dict[str, dict] = {}
        T = spec.steps
        for t in range(T):
            batch = []
            for i, k in enumerate(spec.batch(t)):
                tag = spec.tag(t, i)
                grads, scale, fnames = self.example(state, tag, spec.inputs[k], spec.targets[k])
                self.passes[tag] = self._env
                p.output(*fnames)
                batch.append((grads, scale))
            p.output(*[f"loss_{spec.tag(t, i)}" for i in range(len(batch))])
            need = t + 1 < T or bool(spec.eval_inputs) or bool(probes)
            state = self.update(state, batch, t, need)
        for e, xs in enumerate(spec.eval_inputs):
            env = self.forward(state, f"{T}_{e}", xs)
            self.passes[f"{T}_{e}"] = env
            p.output(*[env[sym(o)].name for o in self.model.outputs])
        for k, xs in enumerate(probes):
            self.passes[f"probe{k}_init"] = self.forward(init_state, f"probe{k}_init", xs)
            self.passes[f"probe{k}_final"] = self.forward(state, f"probe{k}_final", xs)
        self.state = state
        return p


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector while a program is built. A build allocates
    millions of long-lived objects (sympy expressions, graph dicts) and no garbage cycles; every
    full collection rescans all of them, which was half the build time at T = 200 steps. The
    collector's previous state is restored afterwards (cycles made meanwhile are collected then)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _product(*factors: sp.Expr) -> sp.Expr:
    """sympy's canonical Mul of factors, built directly when they are distinct symbols (and at
    most one leading number): what Mul.flatten would return, without its cost (~0.1 ms per
    call, the dominant build cost of the O(T²) Eq. 24 terms)."""
    num = None
    syms = []
    for f in factors:
        if f.is_Symbol:
            syms.append(f)
        elif f.is_Number and num is None:
            num = f
        else:
            return sp.Mul(*factors)
    if num is not None and num == 0:
        return sp.S.Zero
    # Program symbols all carry the same assumptions (real=True), so sympy's order among them
    # (Basic.compare of their hashable content) is the order of their names.
    syms.sort(key=_name)
    for i in range(1, len(syms)):
        if syms[i].name == syms[i - 1].name:  # a power: let sympy build it
            return sp.Mul(*factors)
    args = syms if num is None or num == 1 else [num, *syms]
    if len(args) == 1:
        return args[0]
    return sp.Mul._from_args(tuple(args), True)  # (every factor is commutative)


def _sum(terms: list[sp.Expr]) -> sp.Expr:
    """sympy's canonical Add of terms that cannot combine (each is a product holding a symbol
    no other term holds, as in Eq. 24), built directly; anything else goes through sp.Add."""
    seen: set[frozenset] = set()
    for t in terms:
        if not (t.is_Symbol or (t.is_Mul and all(a.is_Symbol or a.is_Number for a in t.args))):
            return sp.Add(*terms)
        key = frozenset(a for a in (t.args if t.is_Mul else (t,)) if a.is_Symbol)
        if key in seen:  # like terms: let sympy collect them
            return sp.Add(*terms)
        seen.add(key)
    terms = [t for t in terms if t != 0]
    if not terms:
        return sp.S.Zero
    if len(terms) == 1:
        return terms[0]
    if all(t.is_Symbol or all(a.is_Symbol for a in t.args) for t in terms):
        # Basic.compare's order for symbols and products of symbols (same assumptions): the
        # class (Symbol before Mul), then the number of factors, then the names in order.
        return sp.Add._from_args(tuple(sorted(terms, key=_term_key)), True)
    return sp.Add._from_args(tuple(sorted(terms, key=_args_sortkey)), True)


_name = attrgetter("name")


def _symbol_names(expr: sp.Expr) -> set[str]:
    """Names of the free symbols; read directly off a sum of products of symbols (W_t x of
    Eq. 24, hundreds of terms at long horizons) instead of sympy's recursive free_symbols."""
    if expr.is_Add:
        out: set[str] = set()
        for t in expr.args:
            if t.is_Symbol:
                out.add(t.name)
            elif t.is_Mul and all(a.is_Symbol or a.is_Number for a in t.args):
                out.update(a.name for a in t.args if a.is_Symbol)
            else:
                break
        else:
            return out
    return {s.name for s in expr.free_symbols}


def _term_key(t: sp.Expr) -> tuple:
    if t.is_Symbol:
        return (0, 1, (t.name,))
    return (1, len(t.args), tuple(a.name for a in t.args))


def _kind(node: Node) -> str:
    if isinstance(node, (InitScalar, Moment, ScalarOp)):
        return "scalar"
    if isinstance(node, InitMatrix):
        return "matrix"
    return "vector"


def _deps(node: Node) -> list[str]:
    if isinstance(node, MatMul):
        return [node.matrix, node.vector]
    if isinstance(node, (Nonlin, Moment, ScalarOp)):
        return [s.name for s in node.expr.free_symbols]
    return []


# --------------------------------------------------------------------------- public API
def train_program(
    model: Program,
    data,
    *,
    loss: str = "mse",
    lr,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int = 1,
    batch_reduction: str = "sum",
    momentum=0,
    weight_decay=0,
    clip_norm=None,
    decoupled: bool = False,
    eval_inputs=(),
    name: str | None = None,
) -> Program:
    """The Tensor Program of training ``model`` (a forward pass with declared parameters and
    inputs) by SGD on ``data``; its limit is the infinite-width limit of the training run.

    data: ``(rows, targets)``: one row of input values per example (in ``model.inputs`` order;
    a number when the model has one input), one target per example (a tuple with one value per
    model output when there are several). Step t uses examples ``t·B … t·B + B − 1`` (cycling
    through the data); ``steps`` or ``epochs`` (default: one epoch). lr: η (exact numbers stay
    exact). loss: ``"mse"`` or ``"logistic"``, summed over the model's outputs.
    batch_reduction: sum (default) or mean of the per-example gradients. momentum β, weight_decay
    λ, clip_norm c: see the module docstring. decoupled: backprop through independent copies of
    W₀ᵀ (TP4 §6.2). eval_inputs: rows on which the outputs are reported after training.

    Outputs: ``{o}_{t}`` and ``loss_{t}`` per step (``{o}_{t}_{i}``/``loss_{t}_{i}`` with
    batches), then ``{o}_{T}_{e}`` per eval row.
    """
    spec = train_spec(
        model, data, loss=loss, lr=lr, steps=steps, epochs=epochs, batch_size=batch_size,
        batch_reduction=batch_reduction, momentum=momentum, weight_decay=weight_decay,
        clip_norm=clip_norm, decoupled=decoupled, eval_inputs=eval_inputs,
    )  # fmt: skip
    return _Builder(model, spec, name).build()


def build_training(model: Program, spec: TrainSpec, *, name: str | None = None,
                   probes: Sequence[Sequence[sp.Expr]] = ()) -> tuple[Program, dict]:  # fmt: skip
    """The training program of a validated spec plus, per forward-pass tag (``t``/``t_i``,
    ``T_e``, ``probe{k}_init``/``probe{k}_final`` for each probe row), the program name of each
    model vector in that pass (when it is a program vector)."""
    b = _Builder(model, spec, name)
    prog = b.build(probes)
    names = {
        tag: {
            k.name: v.name
            for k, v in env.items()
            if isinstance(v, sp.Symbol) and v.name in b.pvec and b.mkind.get(k.name) == "vector"
        }
        for tag, env in b.passes.items()
    }
    return prog, names
