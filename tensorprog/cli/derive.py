"""`tensorprog derive FILE.tp`: the infinite-width limit of a program's output scalars.

tensorprog derive programs/depth1_x2_one_step.tp
tensorprog derive prog.tp --json            # machine-readable, exact values as "p/q"
tensorprog derive prog.tp --latex           # an align environment
tensorprog derive prog.tp --zdot derivative --all
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from ..errors import TensorProgError
from ..ir import Program
from ..result import LimitResult
from ..zcalc import BACKENDS, EXPECTATION_ROUTES, ZDOT_ROUTES, derive_limit
from ._budget import add_budget_options, budget_from_args
from ._output import (
    abbreviate,
    exact_text,
    float_text,
    latex_name,
    latex_value,
    load_program,
    print_json,
    table,
    to_float,
)
from ._progress import add_progress_options, progress_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``derive`` subcommand."""
    p = subparsers.add_parser(
        "derive",
        help="derive the infinite-width limit of a .tp program's output scalars",
        description="Derive the infinite-width limit (TP4 Definition 7.3 / Master Theorem 7.4) "
        "of the output scalars of a .tp program. Exact mode needs polynomial nonlinearities and "
        "gives exact fractions for rational inputs; decimal literals (0.1) make results "
        "floating point, marked 'numeric'.",
    )
    p.add_argument("file", metavar="FILE.tp", help="the program")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON (values as 'p/q' text)")
    fmt.add_argument("--latex", action="store_true", help="print a LaTeX align environment")
    p.add_argument(
        "--zdot",
        choices=ZDOT_ROUTES,
        default="stein",
        help="how the ZDot correction is computed: 'stein' (derivative-free, default) or "
        "'derivative' (TP4 Eq. 31); both give the same limit",
    )
    p.add_argument(
        "--expectation",
        choices=EXPECTATION_ROUTES,
        default="innovations",
        help="Gaussian moments by LDL innovations (default) or Isserlis pairings",
    )
    p.add_argument(
        "--mode",
        choices=("exact", "float", "numeric", "auto"),
        default="exact",
        help="'exact' (default; polynomial nonlinearities), 'float' (the same algebra in "
        "float64: long horizons), 'numeric' (any function, numeric expectations) or 'auto' "
        "(exact when possible)",
    )
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="polynomial backend (default auto: python-flint exact, float64, or the "
                   "linear fast path)")  # fmt: skip
    add_budget_options(p)
    p.add_argument(
        "--all", action="store_true", help="list every scalar of the program, not only outputs"
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="print long exact values in full in the table (default: abbreviated)",
    )
    add_progress_options(p)
    p.set_defaults(func=run)


def _names(program: Program, limit: LimitResult,
           all_scalars: bool) -> tuple[list[str], list[str]]:
    """(scalars, vectors) to report: the outputs, or every scalar with --all / no outputs."""
    if all_scalars or not program.outputs:
        return list(limit.scalars), [n for n in program.outputs if program.kind(n) == "vector"]
    scalars = [n for n in program.outputs if program.kind(n) == "scalar"]
    vectors = [n for n in program.outputs if program.kind(n) == "vector"]
    return scalars, vectors


def derive(args: argparse.Namespace) -> tuple[Program, LimitResult]:
    program = load_program(args.file)
    bar = progress_from_args(args)
    try:
        limit = derive_limit(
            program,
            mode=args.mode,
            zdot=args.zdot,
            expectation=args.expectation,
            progress=bar,
            backend=args.backend,
            budget=budget_from_args(args),
        )
    except ImportError as e:  # a mode whose back end is not installed
        raise TensorProgError(
            f"mode '{args.mode}' is not available: {e}", hint="use --mode exact"
        ) from None
    finally:
        if bar is not None:
            bar.close()
    return program, limit


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    program, limit = derive(args)
    seconds = time.perf_counter() - start
    scalars, vectors = _names(program, limit, args.all)
    if args.json:
        print_json(_json(program, limit, scalars, vectors, args, seconds))
    elif args.latex:
        print(_latex(limit, scalars))
    else:
        rows = [_row(limit, name, args.full) for name in scalars]
        print(f"{program.name}: infinite-width limit ({limit.mode}, zdot={args.zdot})")
        if not program.outputs:
            print("(the program has no output line: showing every scalar)")
        print(table(["name", "value", "approx", "kind"], rows))
        for name in vectors:
            z = _z_text(limit, name)
            print(f"Z^{name} = {abbreviate(z, 0 if args.full else 200)}" if z else
                  f"Z^{name}: not available in numeric mode")  # fmt: skip
        print(f"({seconds:.2f} s)")
    return 0


def _row(limit: LimitResult, name: str, full: bool) -> list[str]:
    """name, value (exact text, or rounded to its error bar), a decimal approximation, kind."""
    if limit.is_exact(name):
        return [name, abbreviate(limit.text(name), 0 if full else 70), limit.text(name, 10),
                "exact"]
    err = limit.error(name)
    kind = "float64" if err is None else f"numeric ± {err:.1g}"
    return [name, limit.text(name), float_text(limit.scalars[name]), kind]


def _z_text(limit: LimitResult, name: str) -> str | None:
    if limit.mode != "numeric":
        return exact_text(limit.Z(name))
    return None  # numeric limits hold Z only as particle values


def _entry(limit: LimitResult, name: str) -> dict[str, Any]:
    v = limit.scalars[name]
    out = {"value": exact_text(v), "float": to_float(v), "exact": limit.is_exact(name)}
    if limit.mode == "numeric":
        out["error"] = limit.error(name)
    if limit.status(name) != "ok":
        out["status"] = limit.status(name)
    return out


def _json(program, limit, scalars, vectors, args, seconds) -> dict[str, Any]:
    return {
        "program": program.name,
        "file": args.file,
        "mode": limit.mode,
        "zdot": args.zdot,
        "expectation": args.expectation,
        "seconds": seconds,
        "outputs": {n: _entry(limit, n) for n in program.outputs if n in limit.scalars},
        **({"scalars": {n: _entry(limit, n) for n in scalars}} if args.all else {}),
        "vectors": {n: {"Z": _z_text(limit, n)} for n in vectors},
    }


def _latex(limit: LimitResult, scalars: list[str]) -> str:
    lines = []
    for name in scalars:
        v = limit.scalars[name]
        exact_non_integer = not (v.is_Integer or v.is_Float)
        approx = f" \\approx {float_text(v, 6)}" if exact_non_integer else ""
        lines.append(f"  {latex_name(name)} &= {latex_value(v)}{approx}")
    return "\\begin{align}\n" + " \\\\\n".join(lines) + "\n\\end{align}"
