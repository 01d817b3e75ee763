"""The μTransfer figure from a sweep database: training loss after T steps vs log₂ η, one panel
per (activation, parametrization), one curve per width (mean over seeds) and the μP limit.

μP (TP4: Yang & Hu, arXiv:2011.14522, Def. 5.1) has a width-independent limit, so its optimal
η should stabilize as the width grows and agree with the limit's optimum; in SP the optimal η
drifts (like 1/n at one hidden layer: the output layer's update moves f by Θ(η n)), which is why
its limit is unstable.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..errors import TensorProgError
from .db import ResultsDB, read_rows

#: loss values above this count as diverged in the figure and the optima.
CAP = 1e3
#: figure formats (file extensions) the Agg backend writes.
FORMATS = ("png", "pdf", "svg", "svgz", "eps", "ps", "jpg", "jpeg", "tif", "tiff", "webp")


def check_figure_path(out: str | Path, flag: str = "out") -> str:
    """The format of the figure file ``out`` from its extension; unknown ones refused."""
    ext = Path(out).suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise TensorProgError(
            f"{flag} {out}: "
            + (f"unknown figure format '.{ext}'" if ext else "no file extension to say the "
               "figure format"),
            hint=f"end the file name with one of .{', .'.join(FORMATS)} (e.g. mutransfer.png)")
    return ext


def curves(db: str | Path | ResultsDB, scalar: str = "train_loss") -> dict[tuple, dict]:
    """``{(activation, parametrization, depth, steps): {width: {log2 η: (mean, stderr, n)}}}``
    over the points with status ok; width "limit" for the limit."""
    rows = read_rows(db)
    acc: dict[tuple, dict[Any, dict[float, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list)))
    ok = [r for r in rows if r["status"] == "ok"]
    if ok and not any(scalar in r["scalars"] for r in ok):
        # e.g. a spec without a data table: its points have f_t and loss_t, no train_loss.
        # Counting every point as diverged would print a wrong table.
        have = sorted({k for r in ok for k in r["scalars"]})
        raise TensorProgError(
            f"no point of this database has the scalar '{scalar}' to plot",
            hint=f"'{scalar}' is computed for specs with a data table (the μTransfer preset); "
            f"these points have: {', '.join(have[:12])}{', …' if len(have) > 12 else ''}")
    for r in rows:
        p = r["params"]
        key = (p["activation"], p["parametrization"], p["depth"], p["steps"])
        v = r["scalars"].get(scalar, (None, None, None))[1] if r["status"] == "ok" else None
        v = math.inf if v is None or not math.isfinite(v) or v > CAP else v
        acc[key][p["width"]][p["log2_lr"]].append(v)
    out: dict[tuple, dict] = {}
    for key, by_w in acc.items():
        out[key] = {}
        for w, by_lr in by_w.items():
            out[key][w] = {}
            for lr, vs in sorted(by_lr.items()):
                if any(math.isinf(v) for v in vs):
                    out[key][w][lr] = (math.inf, 0.0, len(vs))
                    continue
                m = math.fsum(vs) / len(vs)
                sd = (math.fsum((v - m) ** 2 for v in vs) / (len(vs) - 1)) ** 0.5 \
                    if len(vs) > 1 else 0.0
                out[key][w][lr] = (m, sd / len(vs) ** 0.5, len(vs))
    return out


def optima(cv: dict[tuple, dict]) -> list[dict[str, Any]]:
    """The grid's optimal log₂ η per (panel, width): the argmin of the seed-mean loss."""
    rows = []
    for key, by_w in sorted(cv.items(), key=lambda kv: tuple(map(str, kv[0]))):
        ws = sorted(by_w, key=lambda w: math.inf if w == "limit" else w)
        for w in ws:
            pts = [(m, lr) for lr, (m, _, _) in by_w[w].items() if math.isfinite(m)]
            best = min(pts) if pts else (math.inf, math.nan)
            rows.append({"activation": key[0], "parametrization": key[1], "depth": key[2],
                         "steps": key[3], "width": w, "best_log2_lr": best[1],
                         "best_loss": best[0]})  # fmt: skip
    return rows


def optima_markdown(rows: list[dict[str, Any]]) -> str:
    """The optima as a Markdown table (one row per panel, one column per width)."""
    panels: dict[tuple, dict] = defaultdict(dict)
    widths: list[Any] = []
    for r in rows:
        panels[(r["activation"], r["parametrization"], r["steps"])][r["width"]] = r
        if r["width"] not in widths:
            widths.append(r["width"])
    widths.sort(key=lambda w: math.inf if w == "limit" else w)
    head = "| φ | param. | T | " + " | ".join(
        "limit" if w == "limit" else f"n={w}" for w in widths) + " |"
    lines = [head, "|" + "---|" * (3 + len(widths))]
    for (act, par, T), by_w in panels.items():
        cells = []
        for w in widths:
            r = by_w.get(w)
            if r is None:
                cells.append("—")
            elif math.isnan(r["best_log2_lr"]):
                cells.append("diverged")
            else:
                cells.append(f"{r['best_log2_lr']:g} ({r['best_loss']:.3g})")
        lines.append(f"| {act} | {par} | {T} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def mutransfer_figure(db: str | Path | ResultsDB, out: str | Path,
                      scalar: str = "train_loss") -> list[dict[str, Any]]:  # fmt: skip
    """Draw the figure to ``out`` (format from its extension, see FORMATS) and return the
    optima rows."""
    fmt = check_figure_path(out)
    cv = curves(db, scalar)
    if not cv:
        name = db.path if isinstance(db, ResultsDB) else db
        raise TensorProgError(f"{name} holds no points: there is nothing to plot",
                              hint="run a sweep into it first: tensorprog sweep SPEC.toml "
                              f"--db {name}")  # fmt: skip

    import matplotlib  # local: optional heavy dependency, only for figures

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    acts = sorted({k[0] for k in cv})
    pars = sorted({k[1] for k in cv}, key=lambda p: (p != "mup", p))
    fig, axes = plt.subplots(len(acts), len(pars), figsize=(5.2 * len(pars), 3.6 * len(acts)),
                             squeeze=False)  # fmt: skip
    cmap = plt.get_cmap("viridis")
    for i, act in enumerate(acts):
        for j, par in enumerate(pars):
            ax = axes[i][j]
            keys = [k for k in cv if k[0] == act and k[1] == par]
            if not keys:
                ax.set_visible(False)
                continue
            key = keys[0]
            by_w = cv[key]
            grid = sorted({lr for w in by_w for lr in by_w[w]})

            def line(w, by_w=by_w, grid=grid):  # nan at missing / diverged η: no bridged gaps
                ms = [by_w[w].get(lr, (math.nan,))[0] for lr in grid]
                return [m if math.isfinite(m) else math.nan for m in ms]

            finite = sorted(w for w in by_w if w != "limit")
            for k, w in enumerate(finite):
                c = cmap(k / max(1, len(finite) - 1))
                ms = line(w)
                ax.plot(grid, ms, "o-", color=c, ms=3, lw=1.2, label=f"n = {w}")
                ok = [k for k, m in enumerate(ms) if math.isfinite(m)]
                if ok:
                    b = min(ok, key=ms.__getitem__)
                    ax.plot([grid[b]], [ms[b]], "*", color=c, ms=11, mec="k", mew=0.5)
            if "limit" in by_w:
                ms = line("limit")
                ax.plot(grid, ms, "k--", lw=2, label="μP limit")
                ok = [k for k, m in enumerate(ms) if math.isfinite(m)]
                if ok:
                    b = min(ok, key=ms.__getitem__)
                    ax.plot([grid[b]], [ms[b]], "*", color="k", ms=13)
            ax.set_yscale("log")
            ax.set_xlabel("log₂ η")
            ax.set_ylabel(f"train loss after T = {key[3]} steps")
            ax.set_title(f"{'μP' if par == 'mup' else par.upper()}, φ = {act}, L = {key[2]}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, ncol=2)
    fig.suptitle("μTransfer: optimal learning rate vs width (stars: optima; missing: diverged)",
                 fontsize=11)  # fmt: skip
    fig.tight_layout()
    fig.savefig(out, dpi=110, format=fmt)
    plt.close(fig)
    return optima(cv)
