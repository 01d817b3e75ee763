"""`tensorprog simulate FILE.tp --width N --seeds K`: run a program at finite width.

    tensorprog simulate programs/zdot_check.tp --width 2000 --seeds 20
    tensorprog simulate prog.tp --width 500 --seeds 10 --seed 100 --json

Each seed is one independent finite-width execution (tensorprog.finite.run_finite); the table
shows the mean over seeds ± its standard error (sample std / sqrt(K)).
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from ..finite import Simulation, simulate
from ._output import check_positive, load_program, print_json, table


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` subcommand."""
    p = subparsers.add_parser(
        "simulate",
        help="run a .tp program at finite width over several seeds (mean ± stderr)",
        description="Run a .tp program at finite width n: initial vectors get iid Gaussian "
        "coordinates with the declared covariance, matrices N(0, sigma^2/n) entries (TP4 "
        "Setup 7.2). Reports each output scalar's mean over the seeds ± its standard error.",
    )
    p.add_argument("file", metavar="FILE.tp", help="the program")
    p.add_argument("--width", "-n", type=int, required=True, help="the width n")
    p.add_argument("--seeds", "-k", type=int, default=10, help="number of seeds (default 10)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--all", action="store_true", help="every scalar of the program, not only outputs"
    )
    p.set_defaults(func=run)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None  # JSON has no NaN


def run(args: argparse.Namespace) -> int:
    check_positive(args.width, "--width")
    check_positive(args.seeds, "--seeds")
    program = load_program(args.file)
    sim = simulate(program, args.width, args.seeds, seed=args.seed)
    names = [n for n in program.outputs if program.kind(n) == "scalar"]
    if args.all or not names:
        names = list(sim.values)
    if args.json:
        print_json(_json(sim, names, args))
        return 0
    rows = [[n, _mean_pm(sim, n)] for n in names]
    print(
        f"{program.name}: width {args.width}, {args.seeds} seed(s) from {args.seed}"
        + ("" if program.outputs else " (no output line: showing every scalar)")
    )
    print(table(["name", "mean ± stderr"], rows))
    return 0


def _mean_pm(sim: Simulation, name: str) -> str:
    m, s = sim.mean(name), sim.stderr(name)
    return f"{m:.6g} ± {s:.2g}" if math.isfinite(s) else f"{m:.6g} ± n/a"


def _json(sim: Simulation, names: list[str], args: argparse.Namespace) -> dict[str, Any]:
    return {
        "program": sim.program.name,
        "file": args.file,
        "width": sim.width,
        "seeds": sim.seeds,
        "outputs": {
            n: {
                "mean": _finite(sim.mean(n)),
                "stderr": _finite(sim.stderr(n)),
                "values": [_finite(float(v)) for v in sim.values[n]],
            }
            for n in names
        },
    }
