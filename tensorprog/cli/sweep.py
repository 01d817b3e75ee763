"""`tensorprog sweep`: grids of MLP limits and finite-width runs on Dask, results in SQLite.

    tensorprog sweep SPEC.toml --db results.sqlite                 # embedded LocalCluster
    tensorprog sweep SPEC.toml --db results.sqlite --resume        # finish an interrupted sweep
    tensorprog sweep SPEC.toml --db r.sqlite --scheduler tcp://10.0.0.1:8786
    tensorprog sweep SPEC.toml --db r.sqlite --scheduler serial    # in-process reference
    tensorprog sweep --preset mutransfer --db mutransfer.sqlite
    tensorprog sweep export --db results.sqlite --format csv --out results.csv
    tensorprog sweep plot --db mutransfer.sqlite --out mutransfer.png
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import TensorProgError
from ..files import check_output
from ._output import check_positive, print_json, table


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand."""
    p = subparsers.add_parser(
        "sweep",
        help="run a grid of limits / finite-width runs on Dask into a SQLite database",
        description="Run every point of a TOML sweep spec (the product of its lists) on Dask "
        "distributed — an embedded LocalCluster by default, an existing cluster with "
        "--scheduler — and commit each result to a SQLite database as it arrives. "
        "`tensorprog sweep export ...` writes the database as CSV/Parquet; `tensorprog sweep "
        "plot ...` draws the μTransfer figure. The spec format is in docs/sweep.md.",
    )
    p.add_argument("spec", nargs="?", metavar="SPEC.toml | export | plot",
                   help="the sweep spec, or the action 'export' or 'plot'")  # fmt: skip
    p.add_argument("--db", required=True, metavar="FILE", help="the SQLite results database")
    p.add_argument("--preset", metavar="NAME",
                   help="a shipped spec instead of SPEC.toml: mutransfer")  # fmt: skip
    p.add_argument("--scheduler", metavar="ADDR",
                   help="tcp://HOST:PORT of a running Dask scheduler, or 'serial' (in this "
                   "process; the reference); default: an embedded LocalCluster")  # fmt: skip
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes of the embedded LocalCluster (default: one per CPU; "
                   "at most 4 per CPU)")  # fmt: skip
    p.add_argument("--max-in-flight", type=int, metavar="K",
                   help="tasks submitted at once (default 4 × the cluster's threads, >= 8)")
    p.add_argument("--points-per-task", type=int, default=1, metavar="K",
                   help="points computed per Dask task (default 1; e.g. 16 for grids of "
                   "millisecond points, whose per-task overhead would dominate)")
    p.add_argument("--resume", action="store_true",
                   help="skip points the database already holds (error rows are retried)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--progress", action="store_true",
                   help="always show the progress line (default: on terminals, after 1 s)")
    g.add_argument("--no-progress", action="store_true", help="never show the progress line")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv",
                   help="export: file format (parquet needs pyarrow)")  # fmt: skip
    p.add_argument("--out", metavar="FILE", help="export / plot: output file")
    p.add_argument("--force", action="store_true",
                   help="export / plot: replace --out if it exists")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _not_the_db(args: argparse.Namespace, what: str) -> None:
    """--out must never name the results database (or its -wal / -shm files): --force would
    replace the results with a figure or a CSV."""
    out, db = os.path.abspath(args.out), os.path.abspath(args.db)
    same = out in (db, db + "-wal", db + "-shm", db + "-journal")
    if not same and os.path.exists(out) and os.path.exists(db):
        same = os.path.samefile(out, db)
    if same:
        raise TensorProgError(f"--out {args.out} is the results database --db {args.db}: "
                              f"writing the {what} there would destroy the results",
                              hint=f"give the {what} its own file name")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if args.spec == "export":
        return _export(args)
    if args.spec == "plot":
        return _plot(args)
    return _sweep(args)


def _export(args: argparse.Namespace) -> int:
    from ..sweep import export

    if not args.out:
        raise TensorProgError("sweep export needs --out FILE")
    _not_the_db(args, "export")
    check_output(args.out, force=args.force, what="export file")
    n = export(args.db, args.out, args.format)
    if args.json:
        print_json({"rows": n, "out": args.out, "format": args.format})
    else:
        print(f"wrote {n} points to {args.out} ({args.format})")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..sweep.plot import check_figure_path, mutransfer_figure, optima_markdown

    if not args.out:
        raise TensorProgError("sweep plot needs --out FILE.png")
    check_figure_path(args.out, "--out")
    _not_the_db(args, "figure")
    check_output(args.out, force=args.force, what="figure file")
    if not Path(args.db).exists():
        raise TensorProgError(f"{args.db}: no such database")
    rows = mutransfer_figure(args.db, args.out)
    if args.json:
        print_json({"out": args.out, "optima": rows})  # strict: non-finite → null + status
    else:
        print(f"wrote {args.out}\noptimal log2 η (train loss there) per width:")
        print(optima_markdown(rows))
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from ..sweep import load_spec, parse_spec, run_sweep
    from ..sweep.presets import preset_text
    from ..sweep.progress import SweepProgress
    from ..sweep.run import check_scheduler, check_workers

    check_scheduler(args.scheduler, "--scheduler")  # before reading anything: cheap and clear
    check_workers(args.workers, "--workers")

    if args.preset and args.spec:
        raise TensorProgError("give SPEC.toml or --preset, not both")
    if args.preset:
        spec = parse_spec(preset_text(args.preset), f"<preset {args.preset}>")
    elif args.spec:
        spec = load_spec(args.spec)
    else:
        raise TensorProgError("no sweep given", hint="tensorprog sweep SPEC.toml --db FILE, "
                              "or --preset mutransfer")  # fmt: skip
    if args.max_in_flight is not None:
        check_positive(args.max_in_flight, "--max-in-flight")
    check_positive(args.points_per_task, "--points-per-task")
    bar = None if args.no_progress else SweepProgress(force=args.progress)
    if bar is not None and not bar.enabled:
        bar = None
    scheduler = args.scheduler
    try:
        report = run_sweep(spec, args.db, scheduler=scheduler, resume=args.resume,
                           progress=bar, workers=args.workers,
                           max_in_flight=args.max_in_flight,
                           points_per_task=args.points_per_task)  # fmt: skip
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        print(f"interrupted: every finished point is in {args.db}; run again with --resume",
              file=sys.stderr)  # fmt: skip
        return 130
    if bar is not None:
        bar.close()
    if args.json:
        print_json({"db": args.db, "total": report.total, "skipped": report.skipped,
                    "computed": report.computed, "statuses": report.statuses,
                    "seconds": report.seconds, "executor": report.executor,
                    "dashboard": report.dashboard})  # fmt: skip
        return 0
    print(f"sweep '{spec.name}': {report.total} points, {report.skipped} already done, "
          f"{report.computed} computed in {report.seconds:.1f} s on {report.executor}")
    if report.statuses:
        counts = [[k, str(v)] for k, v in sorted(report.statuses.items())]
        print(table(["status", "points"], counts))
    if report.failed:
        print(f"(failed points keep their status and message in {args.db}; "
              "`tensorprog sweep export` lists them)")
    return 0
