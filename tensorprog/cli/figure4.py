"""`tensorprog figure4`: reproduce TP4 Figure 4 ("Empirical Simulation Agrees with Theory").

Three networks (depth 1, depth 2 with decoupled backprop, depth 2 — TP4 §6.1–6.3), each with
φ(x) = x and φ(x) = x², trained by batch-1 SGD on the MSE loss over random ξ_t, y_t ∈ {±1}
(one fixed sequence). For each panel the exact infinite-width loss curve (derive_limit on the
program of tensorprog.builders.mlp_program) is plotted against the real network trained by
tensorprog.training.train_mlp at widths 1024 and 4096: mean ± std over seeds.

    tensorprog figure4 --out docs/figures            # default steps, 20 seeds
    tensorprog figure4 --out /tmp/f4 --steps 3 --seeds 5

The exact quadratic limits get expensive fast (the degree doubles per step): the default step
counts keep the whole run to a few minutes (see docs/mlp.md for measured times).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..builders.mlp import mlp_program, read_number
from ..errors import TensorProgError
from ..files import output_dir, write_bytes, write_text
from ..training import train_mlp
from ..zcalc import derive_limit
from . import _args as A
from ._output import json_text


@dataclass(frozen=True)
class Panel:
    """One curve set: a network (depth, decoupled) with an activation."""

    label: str
    depth: int
    decoupled: bool
    activation: str
    kind: str  # "linear" | "quadratic"
    steps: int


PANEL_NETS = (("depth 1", 1, False), ("depth 2 decoupled", 2, True), ("depth 2", 2, False))
ACTIVATIONS = {"linear": "x", "quadratic": "x^2"}
# Default step counts: each exact limit takes < 1 min on one core (docs/mlp.md lists times).
# Exact rationals double their digits about every step (χ_t enters the next step quadratically),
# so even linear depth-2 limits cost ~1 s at 8 steps but ~3 min at 10.
DEFAULT_STEPS = {("linear", 1): 10, ("linear", 2): 8, ("quadratic", 1): 6, ("quadratic", 2): 4}
DEFAULT_LR = {"linear": "1/10", "quadratic": "1/100"}
WIDTHS = (1024, 4096)
#: --steps bound: exact limits double their digits every step, so 20 steps are already hours.
MAX_STEPS = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``figure4`` subcommand."""
    p = subparsers.add_parser(
        "figure4",
        help="reproduce TP4 Figure 4: limit loss curves vs finite-width μP networks (PNG)",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument("--out", required=True,
                   help="output directory for PNG and JSON files (created if missing)")
    p.add_argument("--force", action="store_true",
                   help="replace figure4*.png / figure4.json already in --out")
    p.add_argument("--steps", type=int,
                   help=f"SGD steps for every panel (default: per panel; at most {MAX_STEPS})")
    p.add_argument("--seeds", type=int, default=20,
                   help="finite-width seeds per width (20)")
    p.add_argument(
        "--widths", default=",".join(map(str, WIDTHS)), help="comma-separated widths"
    )
    p.add_argument("--lr-linear", default=DEFAULT_LR["linear"], help="η for φ = x (1/10)")
    p.add_argument(
        "--lr-quadratic", default=DEFAULT_LR["quadratic"], help="η for φ = x² (1/100)"
    )
    p.add_argument("--data-seed", type=int, default=0,
                   help=f"seed of the ±1 data sequence (0; 0 to {A.MAX_SEED:,})")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def panels(steps: int | None = None) -> list[Panel]:
    """The six panels, in plotting order (row = activation, column = network)."""
    out = []
    for kind, act in ACTIVATIONS.items():
        for label, depth, dec in PANEL_NETS:
            t = steps if steps is not None else DEFAULT_STEPS[(kind, depth)]
            out.append(Panel(label, depth, dec, act, kind, t))
    return out


def data(steps: int, seed: int = 0) -> tuple[list[int], list[int]]:
    """The random training sequence ξ_t, y_t ∈ {±1} (one fixed sequence for all panels)."""
    # A fixed-length draw sliced to `steps`, so shorter runs see a prefix of the same data.
    both = np.random.default_rng(seed).choice([-1, 1], size=(2, max(steps, 64)))
    return [int(v) for v in both[0, :steps]], [int(v) for v in both[1, :steps]]


def compute_panel(
    panel: Panel,
    lr,
    xs: list[int],
    ys: list[int],
    widths: tuple[int, ...],
    seeds: int,
    log=None,
) -> dict:
    """Limit and finite-width loss curves of one panel, with agreement statistics."""
    T = panel.steps
    xs, ys = xs[:T], ys[:T]
    t0 = time.perf_counter()
    program = mlp_program(panel.depth, panel.activation, xs, ys, lr, decoupled=panel.decoupled)
    limit = derive_limit(program)
    lim = np.array([float(limit.scalars[f"loss_{t}"]) for t in range(T)])
    out = {
        "label": panel.label,
        "activation": panel.activation,
        "depth": panel.depth,
        "decoupled": panel.decoupled,
        "steps": T,
        "lr": str(lr),
        "limit_loss": lim.tolist(),
        "limit_exact": all(limit.is_exact(f"loss_{t}") for t in range(T)),
        "limit_seconds": time.perf_counter() - t0,
        "finite": {},
    }
    if log:
        log(f"{panel.kind} {panel.label}: limit of {T} steps in {out['limit_seconds']:.1f} s")
    for n in widths:
        t1 = time.perf_counter()
        runs = np.array(
            [
                train_mlp(
                    panel.depth, panel.activation, xs, ys, lr, width=n, seed=s,
                    decoupled=panel.decoupled,
                ).losses[:, 0]
                for s in range(seeds)
            ]
        )
        finite = np.all(np.isfinite(runs), axis=1)
        good = runs[finite]
        mean = good.mean(axis=0)
        std = good.std(axis=0, ddof=1) if len(good) > 1 else np.zeros(T)
        se = std / np.sqrt(max(len(good), 1))
        dev = np.abs(mean - lim)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(se > 0, dev / se, np.where(dev > 0, np.inf, 0.0))
        out["finite"][str(n)] = {
            "mean": mean.tolist(),
            "std": std.tolist(),
            "stderr": se.tolist(),
            "seeds": seeds,
            "diverged_seeds": int((~finite).sum()),
            "max_abs_dev": float(dev.max()),
            "max_rel_dev": float((dev / np.maximum(np.abs(lim), 1e-12)).max()),
            "max_z": float(z.max()),
            "seconds": time.perf_counter() - t1,
        }
        if log:
            f = out["finite"][str(n)]
            log(
                f"  width {n}: max |mean - limit| = {f['max_abs_dev']:.3g} "
                f"(max {f['max_z']:.2f} stderr) in {f['seconds']:.1f} s"
            )
    return out


def plot(results: list[dict], out_dir: Path) -> list[Path]:
    """figure4.png (2 × 3 grid) and one PNG per activation; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"1024": "tab:blue", "4096": "tab:orange"}
    written = []

    def draw(ax, r: dict) -> None:
        T = r["steps"]
        t = np.arange(T)
        for n, f in r["finite"].items():
            m, s = np.array(f["mean"]), np.array(f["std"])
            c = colors.get(n)
            ax.plot(t, m, color=c, lw=1.5, label=f"width {n}")
            ax.fill_between(t, m - s, m + s, color=c, alpha=0.2, lw=0)
        ax.plot(t, r["limit_loss"], "k--", marker="o", ms=3, lw=1.2, label="limit (exact)")
        phi = "x" if r["activation"] == "x" else "x²"
        ax.set_title(f"{r['label']}, φ(x) = {phi}, η = {r['lr']}", fontsize=9)
        ax.set_xlabel("step t")
        ax.set_ylabel("loss ½(f_t − y_t)²")
        ax.set_xticks(t)
        ax.grid(alpha=0.3)

    fig, axes = plt.subplots(2, 3, figsize=(13, 7), squeeze=False)
    for ax, r in zip(axes.flat, results):
        draw(ax, r)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("μP limit vs finite width (TP4 Figure 4): mean ± std over seeds")
    fig.tight_layout()
    path = out_dir / "figure4.png"
    _save(fig, path)
    plt.close(fig)
    written.append(path)
    for kind, act in ACTIVATIONS.items():
        rs = [r for r in results if r["activation"] == act]
        if not rs:
            continue
        fig, axes = plt.subplots(1, len(rs), figsize=(4.4 * len(rs), 3.6), squeeze=False)
        for ax, r in zip(axes.flat, rs):
            draw(ax, r)
        axes[0, 0].legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / f"figure4_{kind}.png"
        _save(fig, path)
        plt.close(fig)
        written.append(path)
    return written


OUTPUTS = ("figure4.png", "figure4_linear.png", "figure4_quadratic.png", "figure4.json")


def _save(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    write_bytes(path, buf.getvalue(), force=True)  # output_dir checked --force up front


def run(args: argparse.Namespace) -> int:
    """Compute all panels, write PNGs and figure4.json, print a summary."""
    if args.seeds < 2:
        raise TensorProgError("--seeds must be >= 2 (the plot shows a standard deviation)")
    if args.steps is not None and args.steps < 1:
        raise TensorProgError("--steps must be >= 1")
    A.check_ints(args, seeds=A.SEED_COUNT, data_seed=A.SEED,
                 steps=A.Bound(1, MAX_STEPS, "exact limits double their digits every step"))
    widths = tuple(A.parse_widths(args.widths))
    lrs = {
        "linear": read_number(args.lr_linear, "--lr-linear"),
        "quadratic": read_number(args.lr_quadratic, "--lr-quadratic"),
    }
    ps = panels(args.steps)
    for p in ps:  # every panel's finite widths, estimated before any limit is derived
        program = mlp_program(p.depth, p.activation, [1] * p.steps, [1] * p.steps,
                              lrs[p.kind], decoupled=p.decoupled)  # fmt: skip
        for n in widths:
            A.check_finite_run(program, n, args.seeds, width_flag="--widths")
    out_dir = output_dir(args.out, OUTPUTS, force=args.force)
    xs, ys = data(max(p.steps for p in ps), args.data_seed)

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    log(f"data ξ = {xs}, y = {ys}")
    results = [compute_panel(p, lrs[p.kind], xs, ys, widths, args.seeds, log) for p in ps]
    paths = plot(results, out_dir)
    summary = {
        "data": {"xi": xs, "y": ys, "seed": args.data_seed},
        "widths": list(widths),
        "seeds": args.seeds,
        "panels": results,
    }
    write_text(out_dir / "figure4.json", json_text(summary), force=args.force)
    print(f"{'panel':<32}{'steps':>6}{'limit s':>9}" + "".join(
        f"{'max|Δ| @' + str(w):>16}{'max z':>8}" for w in widths
    ))
    for r in results:
        name = f"{r['label']}, φ={r['activation']}"
        row = f"{name:<32}{r['steps']:>6}{r['limit_seconds']:>9.1f}"
        for w in widths:
            f = r["finite"][str(w)]
            row += f"{f['max_abs_dev']:>16.3g}{f['max_z']:>8.2f}"
        print(row)
    for p in paths + [out_dir / "figure4.json"]:
        print(f"wrote {p}")
    return 0
