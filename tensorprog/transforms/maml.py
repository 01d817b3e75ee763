"""First-order MAML (TP4, Yang & Hu, arXiv:2011.14522, §9.2) built by the same machinery as
:func:`~tensorprog.transforms.train_program`.

Each outer step takes ``meta_batch`` tasks. For each task the parameters θ are adapted by
``inner_steps`` SGD steps (learning rate ``inner_lr``) on the task's support set, giving θ'; the
query loss's gradient at θ' is taken as the gradient for θ (first order: the adaptation is a
constant of the outer step), and the meta-batch's gradients are summed (or averaged) into one
outer update with learning rate ``lr`` (momentum, weight decay and clipping apply to it).

Outputs: ``{o}_{t}_{i}_q{j}`` and ``loss_{t}_{i}_q{j}`` — model output o and loss on query
example j of task i of outer step t, at the adapted parameters — and, for each eval task e,
``{o}_{T}_{e}_q{j}`` after adapting the trained parameters to its support set.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import sympy as sp

from ..errors import TensorProgError
from ..ir import Program, sym
from .data import is_sequence
from .train import TrainSpec, _Builder, _State, train_spec


@dataclass(frozen=True)
class MAMLSpec:
    """Validated MAML options: per task (support TrainSpec rows, query rows)."""

    tasks: tuple[tuple[TrainSpec, TrainSpec], ...]
    eval_tasks: tuple[tuple[TrainSpec, TrainSpec], ...]
    outer: TrainSpec
    inner_steps: int
    meta_batch: int
    steps: int


def _task(model, task, k: int, inner_lr, loss) -> tuple[TrainSpec, TrainSpec]:
    if not (is_sequence(task) and len(task) == 2):
        raise TensorProgError(f"tasks[{k}] must be a pair (support data, query data)")
    support, query = task
    s = train_spec(model, support, lr=inner_lr, loss=loss)
    q = train_spec(model, query, lr=inner_lr, loss=loss)
    return s, q


def maml_spec(model: Program, tasks, *, inner_lr, lr, inner_steps: int = 1,
              meta_batch: int = 1, steps: int | None = None, loss: str = "mse",
              batch_reduction: str = "sum", momentum=0, weight_decay=0, clip_norm=None,
              decoupled: bool = False, eval_tasks=()) -> MAMLSpec:  # fmt: skip
    """Validate the arguments of :func:`maml_program`."""
    if not is_sequence(tasks) or not tasks:
        raise TensorProgError("tasks must be a non-empty sequence of (support, query) pairs")
    ts = tuple(_task(model, t, k, inner_lr, loss) for k, t in enumerate(tasks))
    es = tuple(_task(model, t, k, inner_lr, loss) for k, t in enumerate(eval_tasks or ()))
    if isinstance(inner_steps, bool) or not isinstance(inner_steps, int) or inner_steps < 0:
        raise TensorProgError(f"inner_steps must be an integer >= 0, got {inner_steps!r}")
    if isinstance(meta_batch, bool) or not isinstance(meta_batch, int) or meta_batch < 1:
        raise TensorProgError(f"meta_batch must be an integer >= 1, got {meta_batch!r}")
    if len(ts) % meta_batch:
        raise TensorProgError(f"{len(ts)} tasks do not split into meta-batches of {meta_batch}")
    q0 = ts[0][1]
    outer = train_spec(
        model, (list(q0.inputs), list(q0.targets)), lr=lr, loss=loss,
        batch_reduction=batch_reduction, momentum=momentum, weight_decay=weight_decay,
        clip_norm=clip_norm, decoupled=decoupled,
    )  # fmt: skip
    T = len(ts) // meta_batch if steps is None else steps
    return MAMLSpec(ts, es, outer, inner_steps, meta_batch, T)


def _adapt(b: _Builder, state: _State, support: TrainSpec, K: int, tag: str) -> _State:
    inner = replace(b.spec, lr=support.lr, momentum=sp.S.Zero, weight_decay=sp.S.Zero,
                    clip_norm=None)  # fmt: skip
    for k in range(K):
        batch = []
        for j, (xs, ys) in enumerate(zip(support.inputs, support.targets)):
            g, s, _ = b.example(state, f"{tag}_s{k}_{j}", xs, ys)
            batch.append((g, s))
        state = b.update(state, batch, 0, True, spec=inner, label=f"{tag}_a{k}")
    return state


def maml_program(
    model: Program, tasks, *, inner_lr, lr, inner_steps: int = 1, meta_batch: int = 1,
    steps: int | None = None, loss: str = "mse", batch_reduction: str = "sum", momentum=0,
    weight_decay=0, clip_norm=None, decoupled: bool = False, eval_tasks=(),
    name: str | None = None,
) -> Program:  # fmt: skip
    """The Tensor Program of first-order MAML on ``model`` (see the module docstring).

    tasks: a sequence of ``(support, query)`` pairs, each ``(rows, targets)`` as in
    :func:`~tensorprog.transforms.train_program`; outer step t uses tasks
    ``t·meta_batch … t·meta_batch + meta_batch − 1`` (cycling). Each inner step is one SGD step
    on the whole support set (the sum of its examples' gradients)."""
    ms = maml_spec(model, tasks, inner_lr=inner_lr, lr=lr, inner_steps=inner_steps,
                   meta_batch=meta_batch, steps=steps, loss=loss,
                   batch_reduction=batch_reduction, momentum=momentum,
                   weight_decay=weight_decay, clip_norm=clip_norm, decoupled=decoupled,
                   eval_tasks=eval_tasks)  # fmt: skip
    b = _Builder(model, ms.outer, name or f"maml_{model.name}")
    p = b.p
    state = b.state
    per = len(ms.tasks) // ms.meta_batch
    for t in range(ms.steps):
        batch = []
        for i in range(ms.meta_batch):
            support, query = ms.tasks[(t % per) * ms.meta_batch + i]
            adapted = _adapt(b, state, support, ms.inner_steps, f"{t}_{i}")
            for j, (xs, ys) in enumerate(zip(query.inputs, query.targets)):
                tag = f"{t}_{i}_q{j}"
                g, s, fnames = b.example(adapted, tag, xs, ys)
                p.output(*fnames, f"loss_{tag}")
                batch.append((g, s))
        need = t + 1 < ms.steps or bool(ms.eval_tasks)
        state = b.update(state, batch, t, need)
    for e, (support, query) in enumerate(ms.eval_tasks):
        adapted = _adapt(b, state, support, ms.inner_steps, f"{ms.steps}_{e}")
        for j, xs in enumerate(query.inputs):
            env = b.forward(adapted, f"{ms.steps}_{e}_q{j}", xs)
            p.output(*[env[sym(o)].name for o in model.outputs])
    return p


def maml_direct(model: Program, tasks, *, width: int, draws=None, rng=None,
                **options) -> dict[str, float]:  # fmt: skip
    """First-order MAML at finite width with the direct trainer (actual matrices); returns the
    values under :func:`maml_program`'s output names."""
    from .direct import _Direct

    ms = maml_spec(model, tasks, **options)
    d = _Direct(model, ms.outer, width, draws, rng)
    out: dict[str, float] = {}

    def adapt(support: TrainSpec):
        saved = ({k: np.array(v) for k, v in d.vals.items()},
                 {k: np.array(v) for k, v in d.back.items()})  # fmt: skip
        inner = replace(ms.outer, lr=support.lr, momentum=sp.S.Zero, weight_decay=sp.S.Zero,
                        clip_norm=None)  # fmt: skip
        outer_spec, d.spec = d.spec, inner
        mom, mom_back = d.mom, d.mom_back
        d.mom, d.mom_back = {}, {}
        for _ in range(ms.inner_steps):
            grads = []
            for xs, ys in zip(support.inputs, support.targets):
                env = d.forward(xs)
                seeds = {o: d.loss(env[o], float(y))[1] for o, y in zip(model.outputs, ys)}
                grads.append(d.backward(env, seeds))
            d.step(grads, True)
        d.spec, d.mom, d.mom_back = outer_spec, mom, mom_back
        return saved

    per = len(ms.tasks) // ms.meta_batch
    for t in range(ms.steps):
        batch = []
        for i in range(ms.meta_batch):
            support, query = ms.tasks[(t % per) * ms.meta_batch + i]
            saved = adapt(support)
            for j, (xs, ys) in enumerate(zip(query.inputs, query.targets)):
                env = d.forward(xs)
                seeds, tot = {}, 0.0
                for o, y in zip(model.outputs, ys):
                    ell, chi = d.loss(env[o], float(y))
                    out[f"{o}_{t}_{i}_q{j}"] = env[o]
                    seeds[o], tot = chi, tot + ell
                out[f"loss_{t}_{i}_q{j}"] = tot
                batch.append(d.backward(env, seeds))
            d.vals, d.back = saved  # first order: the query gradient updates θ itself
        d.step(batch, True)
    for e, (support, query) in enumerate(ms.eval_tasks):
        saved = adapt(support)
        for j, xs in enumerate(query.inputs):
            env = d.forward(xs)
            for o in model.outputs:
                out[f"{o}_{ms.steps}_{e}_q{j}"] = env[o]
        d.vals, d.back = saved
    return out
