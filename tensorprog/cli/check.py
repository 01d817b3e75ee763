"""`tensorprog check FILE.tp`: parse and validate a program without deriving anything.

tensorprog check programs/*.tp
tensorprog check prog.tp --print      # also print the program in canonical form
"""

from __future__ import annotations

import argparse
from collections import Counter

from ..ir import Program
from ..lang import to_tp
from ._output import load_program, print_json

KINDS = [  # node class -> label, in the order of TP4 Definition 7.1 / Setup 7.2
    ("InitScalar", "initial scalars"),
    ("InitVector", "initial vectors"),
    ("InitMatrix", "initial matrices"),
    ("MatMul", "MatMul"),
    ("Nonlin", "Nonlin"),
    ("Moment", "Moment"),
    ("ScalarOp", "scalar ops"),
]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``check`` subcommand."""
    p = subparsers.add_parser(
        "check",
        help="validate .tp programs (syntax, names, types, covariances) without deriving",
        description="Parse and validate .tp programs: syntax, names defined before use, "
        "types (MatMul only of a matrix and a vector), positive semidefinite initial "
        "covariance. Prints a summary of the nodes by kind; exits 1 on the first error.",
    )
    p.add_argument("files", metavar="FILE.tp", nargs="+", help="the program(s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--print", action="store_true", help="also print each program in canonical form")
    p.set_defaults(func=run)


def summary(program: Program) -> dict[str, int]:
    counts = Counter(type(node).__name__ for node in program.nodes)
    return {label: counts.get(cls, 0) for cls, label in KINDS}


def run(args: argparse.Namespace) -> int:
    results = []
    for path in args.files:
        program = load_program(path)
        program.validate()
        results.append((path, program))
    if args.json:
        print_json(
            [
                {
                    "file": path,
                    "program": p.name,
                    "nodes": len(p),
                    "kinds": summary(p),
                    "outputs": p.outputs,
                }  # fmt: skip
                for path, p in results
            ]
        )
        return 0
    for path, p in results:
        kinds = ", ".join(f"{c} {label}" for label, c in summary(p).items() if c)
        outs = ", ".join(p.outputs) if p.outputs else "none"
        print(f"{path}: ok, {len(p)} nodes ({kinds or 'empty'}); outputs: {outs}")
        if args.print:
            print(to_tp(p))
    return 0
