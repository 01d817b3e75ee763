"""Benchmark: sweeps on Dask — speedup of a 2-worker LocalCluster over the serial executor,
scheduler + database overhead per point, and a projection of the μTransfer preset on 64 cores.

    python benchmarks/sweep.py                                  # ~6 min on 2 busy cores
    python benchmarks/sweep.py --mutransfer-db mutransfer.sqlite   # reuse a preset run's costs
    python benchmarks/sweep.py --quick                          # smaller grids (~1 min)

Rows:
* ``serial`` / ``LocalCluster(2)``: the same grid of 64 numeric tanh limits (depth 2, 16 SGD
  steps, ~0.7 s each on an idle core, η = 2^(-8 … -2)); the cluster's time with and without its
  start-up; speedup = serial / cluster.
* ``no-op points``: N points whose task does nothing, through the whole path (submit, schedule,
  run on a worker, return, commit to SQLite); time per point = (wall − start-up) / N, and the
  CPU time all processes (client + scheduler, workers) spent per point — the figure that does
  not depend on how many other jobs share the machine. The serial executor's no-op row is the
  database cost alone.
* Each case runs ``--repeat`` times (default 2) and the fastest counts.
* ``μTransfer on 64 cores (projected)``: the per-point compute seconds recorded in a preset run's
  database, packed on 64 workers longest-first (the makespan), against the client's per-point
  cost × points (the client commits serially); the projection is the larger of the two plus the
  measured cluster start-up. A second projection packs the cheap (< 50 ms) points 16 per task
  (``--points-per-task 16``), with the measured per-point cost of such tasks.
"""

from __future__ import annotations

import argparse
import heapq
import os
import resource
import sqlite3
import tempfile
import time
from pathlib import Path

import psutil

from tensorprog.sweep import parse_spec, run_sweep
from tensorprog.sweep.point import noop_point
from tensorprog.sweep.presets import preset_text

GRID = """\
[sweep]
name = "bench"
depth = 2
activation = "tanh(x)"
mode = "numeric"
lr = {{ log2 = [-8, -2], num = {n} }}
inputs = "1 0; 0 1; 1 1; 1 -1"
targets = "1,-1,1,-1"
steps = 16
eval_inputs = "1 0; 0 1"
width = "limit"
"""

NOOP = """\
[sweep]
name = "noop"
depth = 1
activation = "x"
lr = {{ log2 = [-20, 0], num = {n} }}
inputs = "1"
targets = "1"
width = 8
seeds = 1
"""


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_tree() -> float:
    """CPU seconds of this process and its live children (LocalCluster workers)."""
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for c in me.children(recursive=True):
        try:
            total += sum(c.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


def timed(spec, scheduler, fn=None, workers=2, k=1) -> tuple[float, float, int, float]:
    """(wall seconds, seconds after the executor was ready, points computed, CPU seconds of
    client + scheduler + workers after the executor was ready)."""
    ready: list[tuple[float, float]] = []
    cpu_end: list[float] = []

    def progress(done, failed, total, note):
        if done == total:  # the workers are still alive here: read their CPU
            cpu_end.append(_cpu_tree())

    with tempfile.TemporaryDirectory() as d:
        t0, c0 = time.perf_counter(), _cpu_tree()
        kw = {"point_fn": fn} if fn else {}
        rep = run_sweep(spec, Path(d) / "b.sqlite", scheduler=scheduler, workers=workers,
                        progress=progress, points_per_task=k,
                        on_executor=lambda ex: ready.append((time.perf_counter(), _cpu_tree())),
                        **kw)
        t1 = time.perf_counter()
    start, cstart = ready[0] if ready else (t0, c0)
    assert rep.failed == 0, rep.statuses
    return t1 - t0, t1 - start, rep.computed, cpu_end[-1] - cstart


def best(spec, scheduler, repeat, fn=None, k=1):
    """The fastest of ``repeat`` runs (other jobs share the machine)."""
    return min((timed(spec, scheduler, fn, k=k) for _ in range(repeat)), key=lambda r: r[1])


def makespan(costs: list[float], workers: int) -> float:
    """Longest-processing-time-first packing of the costs on ``workers`` machines."""
    heap = [0.0] * workers
    for c in sorted(costs, reverse=True):
        heapq.heappush(heap, heapq.heappop(heap) + c)
    return max(heap)


def preset_costs(db: str | None) -> tuple[list[float], str]:
    if db is None:
        tmp = tempfile.mkdtemp()
        db = os.path.join(tmp, "mutransfer.sqlite")
        run_sweep(parse_spec(preset_text("mutransfer"), "<preset mutransfer>"), db, workers=2)
        src = "run now"
    else:
        src = db
    con = sqlite3.connect(db)
    costs = [s for (s,) in con.execute("SELECT seconds FROM points") if s is not None]
    con.close()
    return costs, src


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller grids")
    ap.add_argument("--mutransfer-db", help="database of a `--preset mutransfer` run")
    ap.add_argument("--repeat", type=int, default=2, help="runs per case; the fastest counts")
    args = ap.parse_args()
    n_grid = 64
    n_noop = 400 if args.quick else 2000
    rows: list[tuple[str, str, str, str]] = []

    spec = parse_spec(GRID.format(n=n_grid), "bench.toml")
    ts, _, k, _ = best(spec, "serial", args.repeat)
    rows.append((f"serial, {k} tanh limits", f"{ts:.2f} s", f"{peak_mb():.0f} MB", f"{k} rows"))
    tc, tc_ready, k, _ = best(spec, None, args.repeat)
    rows.append((f"LocalCluster(2), {k} tanh limits", f"{tc:.2f} s ({tc_ready:.2f} s after "
                 "start-up)", f"{peak_mb():.0f} MB", f"{k} rows"))
    rows.append(("speedup LocalCluster(2) / serial", f"{ts / tc:.2f}× ({ts / tc_ready:.2f}× "
                 "after start-up)", "", ""))
    startup = tc - tc_ready

    spec = parse_spec(NOOP.format(n=n_noop), "noop.toml")
    w, _, k, _ = best(spec, "serial", args.repeat, noop_point)
    rows.append((f"no-op points, serial (SQLite only), {k}", f"{1e3 * w / k:.2f} ms/point",
                 f"{peak_mb():.0f} MB", f"{k} rows"))
    w, wr, k, cpu = best(spec, None, args.repeat, noop_point)
    per = wr / k
    rows.append((f"no-op points, LocalCluster(2), {k}", f"{1e3 * per:.2f} ms/point wall, "
                 f"{1e3 * cpu / k:.2f} ms/point CPU (all processes)", f"{peak_mb():.0f} MB",
                 f"{k} rows"))
    w, wr, k, cpu = best(spec, None, args.repeat, noop_point, k=16)
    per16 = wr / k
    rows.append((f"no-op points, LocalCluster(2), {k}, 16 per task",
                 f"{1e3 * per16:.2f} ms/point wall, {1e3 * cpu / k:.2f} ms/point CPU",
                 f"{peak_mb():.0f} MB", f"{k} rows"))

    costs, src = preset_costs(args.mutransfer_db)
    total = sum(costs)
    span = makespan(costs, 64)
    client = per * len(costs)
    proj = max(span, client) + startup
    # 16 points per task for the finite-width points (milliseconds each), 1 for limits
    costs16 = [c for c in costs if c >= 0.05]
    cheap = sorted(c for c in costs if c < 0.05)
    costs16 += [sum(cheap[i : i + 16]) for i in range(0, len(cheap), 16)]
    span16 = makespan(costs16, 64)
    client16 = per * sum(1 for c in costs if c >= 0.05) + per16 * len(cheap)
    proj16 = max(span16, client16) + startup
    rows.append((f"μTransfer preset: {len(costs)} points, compute ({src})", f"{total:.1f} s "
                 f"(longest point {max(costs):.2f} s)", "", ""))
    rows.append(("μTransfer on 64 cores (projected)", f"{proj:.1f} s (makespan {span:.1f} s, "
                 f"client {client:.1f} s, start-up {startup:.1f} s)", "", ""))
    rows.append(("μTransfer on 64 cores, 16 cheap points per task (projected)",
                 f"{proj16:.1f} s (makespan {span16:.1f} s, client {client16:.1f} s)", "", ""))

    widths = [max(len(r[i]) for r in rows + [("case", "time", "peak memory", "result")])
              for i in range(4)]
    head = ("case", "time", "peak memory", "result")
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
