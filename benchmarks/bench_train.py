"""Benchmark of building training programs (reverse-mode autodiff, tensorprog.transforms) against
deriving their limits, each case in a fresh process.

    python benchmarks/bench_train.py                 # the table (~1 minute on 2 cores)
    python benchmarks/bench_train.py --only mlp-d3-x-200

Columns: case, program nodes, build seconds (mlp_program / train_program), derive seconds
(derive_limit in float mode), build / derive, peak RSS of the worker process. Programs: μP,
batch 1, MSE, η = 1/100, ξ_t = (−1)^t, y_t = 1/2; "mlp" is mlp_program (the MLP forward model +
the transformation), "rnn"/"residual" the example models of tensorprog.transforms.examples.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CASES = {
    "mlp-d3-x-50": ("mlp", 50),
    "mlp-d3-x-100": ("mlp", 100),
    "mlp-d3-x-200": ("mlp", 200),
    "rnn3-x-100": ("rnn", 100),
    "residual3-x-100": ("residual", 100),
}


def worker(name: str) -> dict:
    sys.path.insert(0, ROOT)
    from tensorprog.ir import sym
    from tensorprog.zcalc import derive_limit

    kind, T = CASES[name]
    X = sym("x")
    eta = Fraction(1, 100)
    xs = [(-1) ** t for t in range(T)]
    ys = [Fraction(1, 2)] * T
    t0 = time.perf_counter()
    if kind == "mlp":
        from tensorprog.builders import mlp_program

        p = mlp_program(3, X, xs, ys, eta)
    else:
        from tensorprog.transforms import train_program
        from tensorprog.transforms.examples import residual_mlp, rnn

        model = rnn() if kind == "rnn" else residual_mlp()
        k = len(model.inputs)
        rows = [[x] * k for x in xs]
        p = train_program(model, (rows, ys), lr=eta)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    lim = derive_limit(p, mode="float")
    derive = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"case": name, "nodes": len(p), "build": build, "derive": derive, "rss_mb": rss,
            "f_last": float(lim[f"f_{T - 1}"])}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=sorted(CASES))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return
    names = args.only or list(CASES)
    print(f"{'case':<18}{'nodes':>8}{'build s':>10}{'derive s':>10}{'build/derive':>14}"
          f"{'peak RSS':>10}")  # fmt: skip
    print("-" * 70)
    for name in names:
        out = subprocess.run([sys.executable, __file__, "--worker", name], capture_output=True,
                             text=True, check=True)  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['case']:<18}{r['nodes']:>8}{r['build']:>10.2f}{r['derive']:>10.2f}"
              f"{r['build'] / r['derive']:>14.2f}{r['rss_mb']:>8.0f}MB")  # fmt: skip


if __name__ == "__main__":
    main()
