"""Benchmark: first-order MAML on the digits protocol (TP4 §9.2 / Table 2, Yang & Hu,
arXiv:2011.14522) — the μP limit, widths 2^1 … 2^13 and the NNGP/NTK kernel models.

    python3 benchmarks/maml.py [--out DIR] [--seeds 3] [--batches 200]

Prints a table (model, seconds, meta-test accuracy ± std over seeds, accuracy at
initialization, validation accuracy at initialization and after tuning, tuned meta-lr and init,
peak memory) and writes DIR/results.json, DIR/table.md and docs/figures/maml_curves.png.
Sized to finish in about 15 minutes on 2 shared cores.

    python3 benchmarks/maml.py --linear1 [--dims 2000,10000]

instead times SGD on the μP limit of the linear network itself at scale (d = d_o, one-hot
batches of 32, softmax over all outputs, clipping): case, ms per step, peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path

from tensorprog.cli._progress import ProgressBar
from tensorprog.experiments import maml as M


def linear1_scale(dims: list[int], steps: int = 10) -> None:
    """ms per SGD step of the width-(d + d_o) limit network, d = d_o (one row per case)."""
    import numpy as np
    import scipy.sparse as sps

    from tensorprog.experiments import linear1 as L1

    print(f"{'d = d_o':>8}{'width':>8}{'ms/step':>10}{'peak MB':>10}")
    for d in dims:
        net = L1.limit_init(d, d, 1.0, 0.0)
        rng = np.random.default_rng(0)
        t0 = time.perf_counter()
        for _ in range(steps):
            X = sps.csr_matrix((np.ones(32), (np.arange(32), rng.integers(0, d, 32))),
                               shape=(32, d))  # fmt: skip
            L1.sgd_step(net, X, rng.integers(0, d, 32), 0.05, loss="softmax", clip=1.0)
        ms = 1000 * (time.perf_counter() - t0) / steps
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{d:>8}{2 * d:>8}{ms:>10.0f}{peak:>10.0f}")
        del net


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/maml_bench")
    ap.add_argument("--widths", default="2,8,32,128,512,2048,8192,inf")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--tune-batches", type=int, default=60)
    ap.add_argument("--test-tasks", type=int, default=500)
    ap.add_argument("--no-kernels", action="store_true")
    ap.add_argument("--linear1", action="store_true", help="time the linear limit at scale")
    ap.add_argument("--dims", default="2000,10000")
    args = ap.parse_args()
    if args.linear1:
        linear1_scale([int(v) for v in args.dims.split(",")])
        return 0
    models = [M.check_model(w) for w in args.widths.split(",")]
    if not args.no_kernels:
        models += list(M.KERNEL_MODELS)
    cfg = M.MAMLConfig(seeds=args.seeds, batches=args.batches, tune_batches=args.tune_batches,
                       test_tasks=args.test_tasks,
                       curve_every=max(1, args.batches // 4))  # fmt: skip
    t0 = time.perf_counter()
    bar = ProgressBar(force=True)
    res = M.run(models, cfg, progress=bar)
    bar.close()
    total = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res["total_seconds"] = total
    (out / "results.json").write_text(json.dumps(res, indent=2))
    (out / "table.md").write_text(M.markdown_table(res) + "\n")
    M.plot_curves(res, str(out / "curves.png"))
    fig = Path(__file__).resolve().parent.parent / "docs" / "figures" / "maml_curves.png"
    if fig.parent.is_dir():
        shutil.copyfile(out / "curves.png", fig)
    print(f"{'model':<16}{'seconds':>9}{'accuracy %':>16}{'at init %':>10}{'val init':>9}"
          f"{'val tuned':>10}{'meta-lr':>9}{'init':>9}")  # fmt: skip
    for r in res["models"].values():
        va = "—" if r["val_after"] is None else f"{100 * r['val_after']:.1f}"
        print(f"{r['label']:<16}{r['seconds']:>9.1f}{100 * r['mean']:>10.2f} ± "
              f"{100 * r['std']:<4.2f}{100 * r['accuracy_before']:>10.2f}"
              f"{100 * r['val_before']:>9.1f}{va:>10}"
              f"{r['hyper']['meta_lr']:>9g}{r['hyper']['init']:>9.4g}")  # fmt: skip
    print(f"total {total:.0f} s, peak memory {peak:.0f} MB (result files in {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
