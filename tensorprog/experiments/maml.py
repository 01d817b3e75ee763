"""Few-shot learning with first-order MAML in the μP limit, at finite widths and with kernels.

TP4 (Yang & Hu, "Tensor Programs IV", arXiv:2011.14522) §9.2 / Table 2, on the Omniglot-like
digits protocol of :mod:`tensorprog.experiments.digits`. Models:

* ``"inf"``: the μP limit of the 1-hidden-layer linear network, i.e. the width-(d + N) linear
  network with the diagonal initialization of TP4 §6.1 (:mod:`.linear1`), plus a first-layer
  bias (multiplier α, initialized at 0, as in the authors' code);
* ``"<n>"``: the same network at width n (``W₁ = n^{-1/2} Ω W₁^∞``, ``W₂ = n^{-1/2} W₂^∞ Ωᵀ``);
* ``"linear-gp"``: the NNGP/NTK limit of the linear network (a linear model: both kernels are
  x·z/d + σ_b² up to scale);
* ``"relu-gp"`` / ``"relu-ntk"``: the NNGP / NTK of a 1-hidden-layer ReLU network (arc-cosine
  kernels, :mod:`._kernels`). Their features are fixed, so MAML only moves the function, kept
  as a kernel expansion ``f = Σ_p K(·, z_p) C_p`` over the meta-training images (each query
  image's meta-gradient adds to its own coefficient) and, inside a task, over its support.
  They start from f = 0 (the mean of the prior).

First-order MAML (TP4 §9.2 steps 1–6): per task, adapt θ' = θ − ε ∇ L_support(θ) (mean
cross-entropy, ``inner_steps`` steps), then take ∇_{θ'} L_query(θ') at the adapted
parameters; the gradients of a batch of tasks are summed, clipped to global norm ``clip`` and
applied by SGD with the meta learning rate. Meta-test: ``test_steps`` adaptation steps (TP4:
20) on the support of unseen-class tasks, accuracy on their queries.

Linear models are adapted without copying W₁ per task: an adapted first layer is
``W₁'ᵀ = W₁ᵀ − X_sᵀ A`` with A (N × m) accumulated from the support's backpropagated
gradients, so a step costs O(N·m) per task at any width.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import TensorProgError
from . import digits as dg
from ._kernels import KINDS, kernel
from .linear1 import limit_init, sample_width

KERNEL_MODELS = ("linear-gp",) + KINDS[1:]


# --------------------------------------------------------------------------- configuration
@dataclass
class MAMLConfig:
    """The protocol's numbers (defaults: TP4 §9.2 where it gives them)."""

    ways: int = 5
    inner_lr: float = 0.4  # ε, TP4 §9.2
    task_batch: int = 32  # tasks per meta-step, gradients summed
    clip: float = 0.5  # global-norm clip of the summed meta-gradient
    inner_steps: int = 1  # adaptation steps during meta-training
    test_steps: int = 20  # adaptation steps at meta-test (TP4 §9.2)
    batches: int = 300  # meta-steps per final run
    test_tasks: int = 500  # meta-test tasks (the same tasks for every model and seed)
    seeds: int = 3
    curve_every: int = 50
    curve_tasks: int = 100
    tune_batches: int = 150
    val_tasks: int = 300
    meta_lrs: tuple[float, ...] = (0.03, 0.1, 0.3)
    #: μP / finite widths: σ₂ (σ₁ = 1, bias multiplier 1); kernels: the kernel's scale.
    mup_inits: tuple[float, ...] = (1 / 32, 1 / 4)
    kernel_inits: tuple[float, ...] = (0.25, 1.0, 4.0)
    #: widths >= this reuse the μP limit's tuned numbers (0: tune every width)
    transfer_from: int = 512


@dataclass
class Hyper:
    """The tuned numbers of one model: meta learning rate and init multiplier."""

    meta_lr: float
    init: float


def _softmax_chi(F: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For logits F (T, N, N) of N examples labelled 0..N−1: per-task mean cross-entropy,
    accuracy, and χ = ∂(mean CE)/∂F = (softmax(F) − I)/N."""
    T, N, _ = F.shape
    z = F - F.max(axis=2, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=2))
    P = np.exp(z - lse[..., None])
    diag = np.arange(N)
    loss = (lse - z[:, diag, diag]).mean(axis=1)
    acc = (F.argmax(axis=2) == diag).mean(axis=1)
    return loss, acc, (P - np.eye(N)) / N


# --------------------------------------------------------------------------- models
def _rows_times(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """(T, N, d) @ (d, m) as one 2-D product (numpy's broadcast matmul is ~17× slower)."""
    T, N, d = X.shape
    return (X.reshape(T * N, d) @ W).reshape(T, N, -1)


class LinearMuP:
    """The μP 1-hidden-layer linear network (``width=None``: its limit), with bias."""

    def __init__(self, d: int, ways: int, width: int | None, init: float, seed: int,
                 sigma1: float = 1.0, bias_alpha: float = 1.0) -> None:  # fmt: skip
        lim = limit_init(d, ways, sigma1, init, bias=True, bias_alpha=bias_alpha)
        self.net = lim if width is None else sample_width(lim, width, seed)

    def _adapt(self, Xs: np.ndarray, steps: int, eps: float):
        net = self.net
        T, N, _ = Xs.shape
        XsE = _rows_times(Xs, net.E)
        Kss = np.einsum("tid,tjd->tij", Xs, Xs)
        A = np.zeros_like(XsE)
        b = np.broadcast_to(net.b, (T, net.width)).copy()
        O = np.broadcast_to(net.O, (T,) + net.O.shape).copy()
        a = net.bias_alpha
        for _ in range(steps):
            H = XsE - np.einsum("tij,tjm->tim", Kss, A) + a * b[:, None, :]
            _, _, chi = _softmax_chi(np.einsum("tim,tjm->tij", H, O))
            dH = np.einsum("tij,tjm->tim", chi, O)
            A += eps * dH
            b -= eps * a * dH.sum(axis=1)
            O -= eps * np.einsum("tij,tim->tjm", chi, H)
        return A, b, O

    def _query(self, tasks: dg.TaskBatch, state):
        A, b, O = state
        Kqs = np.einsum("tid,tjd->tij", tasks.Xq, tasks.Xs)
        H = _rows_times(tasks.Xq, self.net.E) - np.einsum("tij,tjm->tim", Kqs, A)
        H += self.net.bias_alpha * b[:, None, :]
        return H, np.einsum("tim,tjm->tij", H, O)

    def evaluate(self, tasks: dg.TaskBatch, eps: float, steps: int) -> np.ndarray:
        """Per-task query accuracy after ``steps`` adaptation steps."""
        return _softmax_chi(self._query(tasks, self._adapt(tasks.Xs, steps, eps))[1])[1]

    def meta_step(self, tasks: dg.TaskBatch, eps: float, steps: int, lr: float,
                  clip: float) -> tuple[float, float]:  # fmt: skip
        """One first-order MAML step on a batch of tasks; returns (mean query loss, acc)."""
        state = self._adapt(tasks.Xs, steps, eps)
        H, F = self._query(tasks, state)
        loss, acc, chi = _softmax_chi(F)
        dH = np.einsum("tij,tjm->tim", chi, state[2])
        T, N, d = tasks.Xq.shape
        gE = tasks.Xq.reshape(T * N, d).T @ dH.reshape(T * N, -1)
        gO = np.einsum("tij,tim->jm", chi, H)
        gb = self.net.bias_alpha * dH.sum(axis=(0, 1))
        sq = float((gE * gE).sum() + (gO * gO).sum() + gb @ gb)
        step = lr * min(1.0, clip / math.sqrt(sq)) if sq > 0 else lr
        self.net.E -= step * gE
        self.net.O -= step * gO
        self.net.b -= step * gb
        return float(loss.mean()), float(acc.mean())

    def outputs(self, X: np.ndarray) -> np.ndarray:
        """f(X) of the meta-learned (unadapted) network."""
        H = X @ self.net.E + self.net.bias_alpha * self.net.b
        return H @ self.net.O.T


_POOL_KERNELS: dict[tuple, np.ndarray] = {}


def _pool_kernel(kind: str, data: dg.Digits, rows: np.ndarray) -> np.ndarray:
    """K(every image, pool images), computed once per (kind, data, pool) in this process."""
    key = (kind, id(data), rows.tobytes())
    if key not in _POOL_KERNELS:
        _POOL_KERNELS.clear()  # one pool at a time: (7188 × 3600) float64 is ~200 MB
        _POOL_KERNELS[key] = kernel(kind, data.X, data.X[rows])
    return _POOL_KERNELS[key]


class KernelMAML:
    """A fixed-feature (kernel) model: ``f = Σ_p scale·K(·, z_p) C_p`` over the pool images
    (the meta-training images; row ``rows[p]`` of the data)."""

    def __init__(self, kind: str, data: dg.Digits, rows: np.ndarray, ways: int,
                 init: float) -> None:  # fmt: skip
        self.kind = "linear" if kind == "linear-gp" else kind
        self.scale = init
        self.data = data
        self.Kdp = _pool_kernel(self.kind, data, rows)
        self.C = np.zeros((len(rows), ways))
        self.pos = np.full(len(data.X), -1)
        self.pos[rows] = np.arange(len(rows))

    def K(self, X: np.ndarray, Z: np.ndarray) -> np.ndarray:
        return self.scale * kernel(self.kind, X, Z)

    def _f(self, idx: np.ndarray) -> np.ndarray:
        """f at data rows ``idx`` (any shape) → idx.shape + (ways,)."""
        return (self.scale * self.Kdp[idx.reshape(-1)] @ self.C).reshape(idx.shape + (-1,))

    def _adapt(self, tasks: dg.TaskBatch, steps: int, eps: float):
        F0 = self._f(tasks.is_)
        Kss = np.stack([self.K(x, x) for x in tasks.Xs])
        A = np.zeros_like(F0)  # f' = f − Σ_s K(·, x_s) A_s
        for _ in range(steps):
            _, _, chi = _softmax_chi(F0 - np.einsum("tij,tjk->tik", Kss, A))
            A += eps * chi
        return A

    def _query(self, tasks: dg.TaskBatch, A: np.ndarray) -> np.ndarray:
        Kqs = np.stack([self.K(q, s) for q, s in zip(tasks.Xq, tasks.Xs)])
        return self._f(tasks.iq) - np.einsum("tij,tjk->tik", Kqs, A)

    def evaluate(self, tasks: dg.TaskBatch, eps: float, steps: int) -> np.ndarray:
        return _softmax_chi(self._query(tasks, self._adapt(tasks, steps, eps)))[1]

    def meta_step(self, tasks: dg.TaskBatch, eps: float, steps: int, lr: float,
                  clip: float) -> tuple[float, float]:  # fmt: skip
        loss, acc, chi = _softmax_chi(self._query(tasks, self._adapt(tasks, steps, eps)))
        T, N, d = tasks.Xq.shape
        Xq, chi = tasks.Xq.reshape(T * N, d), chi.reshape(T * N, -1)
        # the meta-gradient Σ_q φ(x_q) χ_q has squared feature-space norm tr(χᵀ K_QQ χ)
        sq = float(np.einsum("qk,qr,rk->", chi, self.K(Xq, Xq), chi))
        step = lr * min(1.0, clip / math.sqrt(sq)) if sq > 0 else lr
        pos = self.pos[tasks.iq.reshape(-1)]
        if (pos < 0).any():
            raise TensorProgError("a query image is not in the kernel model's pool")
        np.add.at(self.C, pos, -step * chi)
        return float(loss.mean()), float(acc.mean())


def make_model(name: str, data: dg.Digits, train_classes: list[int], cfg: MAMLConfig,
               init: float, seed: int):  # fmt: skip
    """A fresh model by name: ``inf``, a width like ``"64"``, or a kernel model."""
    d = data.X.shape[1]
    if name in KERNEL_MODELS:
        rows = np.flatnonzero(np.isin(data.y, train_classes))
        return KernelMAML(name, data, rows, cfg.ways, init)
    if name == "inf":
        return LinearMuP(d, cfg.ways, None, init, seed)
    try:
        width = int(name)
    except ValueError:
        width = 0
    if width < 1:
        raise TensorProgError(
            f"unknown model '{name}'",
            hint=f"a width (integer >= 1), 'inf', or one of {', '.join(KERNEL_MODELS)}",
        )
    return LinearMuP(d, cfg.ways, width, init, seed)


def label(name: str) -> str:
    if name == "inf":
        return "μP limit"
    if name in KERNEL_MODELS:
        return {"linear-gp": "linear GP/NTK", "relu-gp": "relu GP", "relu-ntk": "relu NTK"}[
            name
        ]
    n = int(name)
    return f"width 2^{int(math.log2(n))}" if n & (n - 1) == 0 else f"width {n}"


# --------------------------------------------------------------------------- training runs
@dataclass
class RunResult:
    """One meta-training run: final meta-test accuracy and the learning curve."""

    accuracy: float
    curve_batches: list[int] = field(default_factory=list)
    curve_accuracy: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0


def meta_train(model, sampler: dg.TaskSampler, cfg: MAMLConfig, lr: float, batches: int,
               seed: int, *, eval_tasks: dg.TaskBatch | None = None, curve_every: int = 0,
               tick: Callable[[], None] | None = None) -> RunResult:  # fmt: skip
    """Meta-train ``model`` for ``batches`` meta-steps on tasks drawn with ``seed``; the
    learning curve evaluates ``eval_tasks`` every ``curve_every`` steps."""
    rng = np.random.default_rng(seed + 1_000_003)
    res = RunResult(float("nan"))
    t0 = time.perf_counter()

    def point(b: int) -> None:
        acc = evaluate(model, eval_tasks, cfg)
        res.curve_batches.append(b)
        res.curve_accuracy.append(float(acc.mean()))

    if eval_tasks is not None and curve_every:
        point(0)
    for b in range(1, batches + 1):
        loss, _ = model.meta_step(sampler.sample(rng, cfg.task_batch), cfg.inner_lr,
                                  cfg.inner_steps, lr, cfg.clip)  # fmt: skip
        if not np.isfinite(loss):
            res.train_loss.append(float("inf"))
            break
        res.train_loss.append(loss)
        if eval_tasks is not None and curve_every and b % curve_every == 0:
            point(b)
        if tick is not None:
            tick()
    res.seconds = time.perf_counter() - t0
    return res


def evaluate(model, tasks: dg.TaskBatch, cfg: MAMLConfig, chunk: int = 100) -> np.ndarray:
    """Per-task meta-test accuracy after ``cfg.test_steps`` adaptation steps (in chunks of
    tasks, so memory stays O(chunk · N · width))."""
    return np.concatenate([
        model.evaluate(tasks.part(i, i + chunk), cfg.inner_lr, cfg.test_steps)
        for i in range(0, len(tasks), chunk)
    ])


def _accuracy(model, tasks: dg.TaskBatch, cfg: MAMLConfig) -> float:
    acc = evaluate(model, tasks, cfg)
    return float(np.mean(acc)) if np.all(np.isfinite(acc)) else 0.0


def _val_tasks(data: dg.Digits, cfg: MAMLConfig) -> dg.TaskBatch:
    return dg.TaskSampler(data, dg.splits()["val"], cfg.ways).sample(
        np.random.default_rng(7), cfg.val_tasks
    )


def tune(name: str, data: dg.Digits, cfg: MAMLConfig,
         tick: Callable[[], None] | None = None) -> tuple[Hyper, list[dict]]:  # fmt: skip
    """Grid search (meta-lr × init multiplier) on the validation split, seed 0."""
    sp = dg.splits()
    sampler = dg.TaskSampler(data, sp["tune_train"], cfg.ways)
    val = _val_tasks(data, cfg)
    inits = cfg.kernel_inits if name in KERNEL_MODELS else cfg.mup_inits
    grid = []
    for init in inits:
        for lr in cfg.meta_lrs:
            model = make_model(name, data, sp["tune_train"], cfg, init, 0)
            with np.errstate(all="ignore"):
                meta_train(model, sampler, cfg, lr, cfg.tune_batches, 0, tick=tick)
                acc = _accuracy(model, val, cfg)
            grid.append({"meta_lr": lr, "init": init, "val_accuracy": acc})
    best = max(grid, key=lambda g: g["val_accuracy"])
    return Hyper(best["meta_lr"], best["init"]), grid


#: Largest finite width (the documented runs go to 8192; memory grows like chunk · N · width).
MAX_WIDTH = 100_000


def check_model(name: str) -> str:
    """The model name, validated: ``inf``, a width (integer >= 1) or a kernel model."""
    name = str(name).strip()
    if name in KERNEL_MODELS or name == "inf":
        return name
    if name.isdigit() and int(name) > MAX_WIDTH:
        raise TensorProgError(
            f"width {int(name):,} is more than {MAX_WIDTH:,}",
            hint=f"use widths up to {MAX_WIDTH:,} (each task holds width-sized matrices), "
            "or 'inf' for the μP limit",
        )
    if name.isdigit() and int(name) >= 1:
        return str(int(name))
    raise TensorProgError(
        f"unknown model '{name}'",
        hint=f"a width (integer >= 1), 'inf', or one of {', '.join(KERNEL_MODELS)}",
    )


def run(models: list[str], cfg: MAMLConfig, *, hypers: dict[str, Hyper] | None = None,
        progress: Callable[[int, int, str], None] | None = None) -> dict:  # fmt: skip
    """Tune (unless ``hypers`` gives a model's numbers), then meta-train every model with
    ``cfg.seeds`` seeds on digits 0–4 and meta-test on digits 5–9.

    Widths >= ``cfg.transfer_from`` reuse the μP limit's tuned numbers instead of their own
    grid (μP's hyperparameters transfer across widths; TP4's authors used the limit's numbers
    for every width >= 512). Returns a JSON-ready dict: ``config`` and, per model, ``label``,
    ``hyper``, ``grid`` (the tuning grid with validation accuracies), ``accuracy`` (per seed),
    ``mean``, ``std``, ``accuracy_before`` (meta-test accuracy at initialization, seed 0),
    ``val_before`` / ``val_after`` (validation accuracy at initialization / after the best
    tuning run; None when the model was not tuned), ``curve`` and ``seconds``."""
    models = [check_model(m) for m in models]
    for k, v in (("seeds", cfg.seeds), ("batches", cfg.batches), ("test_tasks", cfg.test_tasks),
                 ("task_batch", cfg.task_batch)):  # fmt: skip
        if v < 1:
            raise TensorProgError(f"{k} must be >= 1, got {v}")
    hypers = dict(hypers or {})
    data = dg.load()
    sp = dg.splits()
    sampler = dg.TaskSampler(data, sp["train"], cfg.ways)
    test_sampler = dg.TaskSampler(data, sp["test"], cfg.ways)
    test = test_sampler.sample(np.random.default_rng(12345), cfg.test_tasks)
    curve_tasks = test_sampler.sample(np.random.default_rng(54321), cfg.curve_tasks)
    val = _val_tasks(data, cfg)

    def transfers(m: str) -> bool:
        return m.isdigit() and cfg.transfer_from > 0 and int(m) >= cfg.transfer_from

    order = sorted(models, key=lambda m: m != "inf")  # the limit first: others may reuse it
    if any(transfers(m) for m in models) and "inf" not in models and "inf" not in hypers:
        order = ["inf"] + order
    grid_size = {m: len(cfg.meta_lrs) * len(cfg.kernel_inits if m in KERNEL_MODELS
                                           else cfg.mup_inits) for m in order}  # fmt: skip
    total = sum((0 if (m in hypers or transfers(m)) else grid_size[m] * cfg.tune_batches)
                + (cfg.seeds * cfg.batches if m in models else 0) for m in order)  # fmt: skip
    done = [0]
    out: dict = {"config": asdict(cfg), "models": {}}
    for m in order:
        def tick(m=m) -> None:
            done[0] += 1
            if progress is not None:
                progress(done[0], total, label(m))

        t0 = time.perf_counter()
        grid: list[dict] = []
        if m not in hypers:
            if transfers(m):
                hypers[m] = hypers["inf"]
            else:
                hypers[m], grid = tune(m, data, cfg, tick)
        if m not in models:
            continue
        h = hypers[m]
        accs, curves = [], []
        before = _accuracy(make_model(m, data, sp["train"], cfg, h.init, 0), test, cfg)
        val_before = _accuracy(make_model(m, data, sp["tune_train"], cfg, h.init, 0), val, cfg)
        for s in range(cfg.seeds):
            model = make_model(m, data, sp["train"], cfg, h.init, s)
            with np.errstate(all="ignore"):
                r = meta_train(model, sampler, cfg, h.meta_lr, cfg.batches, s,
                               eval_tasks=curve_tasks, curve_every=cfg.curve_every, tick=tick)
                acc = _accuracy(model, test, cfg)
            accs.append(acc)
            curves.append(r.curve_accuracy)
        out["models"][m] = {
            "label": label(m),
            "hyper": asdict(h),
            "hyper_from": "inf" if transfers(m) else ("given" if not grid else "grid"),
            "grid": grid,
            "accuracy": accs,
            "mean": float(np.mean(accs)),
            "std": float(np.std(accs)),
            "accuracy_before": before,
            "val_before": val_before,
            "val_after": max((g["val_accuracy"] for g in grid), default=None),
            "curve": {"batches": r.curve_batches, "accuracy": curves},
            "seconds": time.perf_counter() - t0,
        }
    out["models"] = {m: out["models"][m] for m in models}
    return out


# --------------------------------------------------------------------------- reporting
def markdown_table(results: dict) -> str:
    """Meta-test accuracy (%) ± std over seeds, one row per model (TP4 Table 2's layout
    transposed)."""
    cfg = results["config"]
    lines = [
        "| model | meta-lr | init | meta-test accuracy (%) | meta-test at init (%) "
        "| validation: at init → tuned (%) | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["models"].values():
        va = r.get("val_after")
        val = f"{100 * r['val_before']:.1f} → " + ("—" if va is None else f"{100 * va:.1f}")
        lines.append(
            f"| {r['label']} | {r['hyper']['meta_lr']:g} | {r['hyper']['init']:.4g} | "
            f"{100 * r['mean']:.2f} ± {100 * r['std']:.2f} | {100 * r['accuracy_before']:.2f} "
            f"| {val} | {r['seconds']:.1f} |"
        )
    lines.append("")
    lines.append(
        f"{cfg['ways']}-way 1-shot, {cfg['seeds']} seeds × {cfg['batches']} meta-batches of "
        f"{cfg['task_batch']} tasks; {cfg['test_tasks']} meta-test tasks, "
        f"{cfg['test_steps']} adaptation steps of {cfg['inner_lr']:g}."
    )
    return "\n".join(lines)


def plot_curves(results: dict, path: str) -> None:
    """Meta-test accuracy against meta-batches (mean ± std over seeds) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    widths = sorted(int(m) for m in results["models"] if m.isdigit())
    shade = {str(n): plt.cm.viridis(0.9 * i / max(1, len(widths) - 1))
             for i, n in enumerate(widths)}  # fmt: skip
    kern = {"linear-gp": "tab:orange", "relu-gp": "tab:red", "relu-ntk": "tab:purple"}
    for m, r in results["models"].items():
        curves = [c for c in r["curve"]["accuracy"] if len(c) == len(r["curve"]["batches"])]
        if not curves:
            continue
        a = 100 * np.array(curves)
        x = r["curve"]["batches"]
        mean, std = a.mean(axis=0), a.std(axis=0)
        color = "black" if m == "inf" else shade.get(m, kern.get(m))
        style = "--" if m in kern else "-"
        ax.plot(x, mean, style, color=color, label=r["label"], lw=2 if m == "inf" else 1.2)
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.15)
    ax.set_xlabel("meta-training batches")
    ax.set_ylabel("meta-test accuracy (%)")
    ax.set_title("first-order MAML, digits 5-way 1-shot")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
