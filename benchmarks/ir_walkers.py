"""Benchmarks of the IR walkers: peak memory of a finite-width run with and without freeing
dead values at their last use, and the cost of building and validating a long program.

    python3 benchmarks/ir_walkers.py            # both tables (~1-2 minutes)
    python3 benchmarks/ir_walkers.py --memory   # finite-width runs only
    python3 benchmarks/ir_walkers.py --build    # build + validate() only

Each case runs in a fresh process. Columns: case, seconds, peak memory (tracemalloc: numpy
arrays included), result size (values returned / program nodes).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

MEMORY = {
    # run_finite keeping every value (keep=None, what run_finite returns by default) against
    # keeping only the scalars and freeing each array after its last reader (what simulate does)
    "finite-all-values": "keep=None",
    "finite-last-use": "keep=set(p.names('scalar'))",
}

_MEMORY_CODE = """
import json, time, tracemalloc
from tensorprog import mlp_program
from tensorprog.finite import run_finite
p = mlp_program({depth}, 'tanh(x)', [1, -1] * {half}, [1, 0] * {half}, 0.5)
tracemalloc.start()
t = time.perf_counter()
env = run_finite(p, {width}, rng=0, {keep})
dt = time.perf_counter() - t
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps([dt, peak / 2**20, len(env), len(p)]))
"""

_BUILD_CODE = """
import json, time
from tensorprog import mlp_program
t = time.perf_counter()
p = mlp_program(3, 'tanh(x)', [0.5, -1.0] * 100, [1.0, 0.0] * 100, 0.1)
build = time.perf_counter() - t
best = float('inf')
for _ in range(5):
    t = time.perf_counter()
    p.validate()
    best = min(best, time.perf_counter() - t)
print(json.dumps([build, best, len(p)]))
"""


def _run(code: str) -> list:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def memory(width: int, depth: int, steps: int) -> None:
    print(f"finite width {width}, mlp_program depth {depth}, {steps} SGD steps, tanh")
    print(f"{'case':<20} {'seconds':>8} {'peak MiB':>9} {'values':>7} {'nodes':>6}")
    for name, keep in MEMORY.items():
        code = _MEMORY_CODE.format(depth=depth, half=steps // 2, width=width, keep=keep)
        dt, peak, values, nodes = _run(code)
        print(f"{name:<20} {dt:8.2f} {peak:9.1f} {values:7d} {nodes:6d}")


def build() -> None:
    print("mlp_program depth 3, 200 SGD steps, float inputs: build, then validate() (best of 5)")
    print(f"{'case':<20} {'build s':>8} {'validate s':>10} {'nodes':>6}")
    b, v, nodes = _run(_BUILD_CODE)
    print(f"{'mlp-d3-200':<20} {b:8.2f} {v:10.4f} {nodes:6d}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--build", action="store_true")
    ap.add_argument("--width", type=int, default=4096)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--steps", type=int, default=100)
    a = ap.parse_args()
    both = not (a.memory or a.build)
    if a.memory or both:
        memory(a.width, a.depth, a.steps)
    if a.build or both:
        build()


if __name__ == "__main__":
    main()
