"""`tensorprog classify`: classify abc-parametrizations of an MLP (TP4 §3.2, §5.3).

    tensorprog classify --preset mup --depth 3
    tensorprog classify --a=-1/2,0,1/2 --b 1/2,1/2,1/2 --c 0
    tensorprog classify --var-exp 0,-1,-2 --lr-exp 1,0,-1          (Chen et al. Table 2 form)
    tensorprog classify --table1 --depth 2 --json
"""

from __future__ import annotations

import argparse
import sys

from ..errors import ParametrizationError
from ..parametrization import (
    ABCParametrization,
    classify,
    format_table,
    parse_rational_list,
    preset,
    preset_names,
)
from ._output import print_json

TABLE1 = ("sp_lr_1/n", "ntp", "mfp", "mup")  # the columns of TP4 Table 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``classify`` subcommand."""
    p = subparsers.add_parser(
        "classify",
        help="classify an abc-parametrization (stable? nontrivial? feature learning? kernel?)",
        description="Classify abc-parametrizations of an L-hidden-layer MLP exactly, by TP4 "
        "(Yang & Hu) Def. 3.2, Thms 3.3-3.8, Props 5.3/5.5 and the symmetry of Eq. (5). "
        "Exponents are exact rationals such as -1/2; write a list that starts with a minus "
        "sign as --a=-1/2,0,1/2 so it is not mistaken for an option.",
    )
    p.add_argument(
        "--preset",
        action="append",
        default=[],
        metavar="NAME",
        help=f"a named parametrization ({', '.join(preset_names())}); repeat or "
        "comma-separate for several columns",
    )
    p.add_argument("--depth", type=int, help="L, the number of hidden layers")
    p.add_argument("--a", help="a_1..a_{L+1}, comma-separated (W^l = n^{-a_l} w^l)")
    p.add_argument("--b", help="b_1..b_{L+1}, comma-separated (w^l ~ N(0, n^{-2 b_l}))")
    p.add_argument("--c", help="c (learning rate η n^{-c})")
    p.add_argument(
        "--var-exp",
        help="alternative to --a/--b/--c: v_1..v_{L+1} with Var W^l_ij = n^{v_l} (needs --lr-exp)",
    )
    p.add_argument(
        "--lr-exp", help="γ_1..γ_{L+1} with per-layer learning rate η n^{γ_l} (needs --var-exp)"
    )
    p.add_argument("--name", help="column label for the --a/--b/--c parametrization")
    p.add_argument(
        "--table1",
        action="store_true",
        help="TP4 Table 1's columns: sp_lr_1/n, ntp, mfp (at L = 1), mup (default depth 2)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--ascii", action="store_true", help="ASCII-only table")
    p.set_defaults(func=run)


def _custom(args: argparse.Namespace) -> list[ABCParametrization]:
    abc = [args.a, args.b, args.c]
    layerwise = [args.var_exp, args.lr_exp]
    out: list[ABCParametrization] = []
    if any(x is not None for x in abc):
        if any(x is None for x in abc):
            missing = [f"--{n}" for n, x in zip("abc", abc, strict=True) if x is None]
            raise ParametrizationError(
                f"incomplete abc-parametrization: missing {', '.join(missing)}",
                hint="give all of --a, --b (L+1 comma-separated rationals each) and --c",
            )
        a = parse_rational_list(args.a, "--a")
        b = parse_rational_list(args.b, "--b")
        c = parse_rational_list(args.c, "--c")
        if len(a) != len(b):
            raise ParametrizationError(
                f"--a has {len(a)} exponents but --b has {len(b)}",
                hint="give one a_l and one b_l for each layer l = 1..L+1",
            )
        if len(c) != 1:
            raise ParametrizationError(
                f"--c takes one rational, got {len(c)}", hint="e.g. --c 0 or --c=-1/2"
            )
        out.append(ABCParametrization(a, b, c[0], name=args.name or "custom"))
    if any(x is not None for x in layerwise):
        if any(x is None for x in layerwise):
            raise ParametrizationError(
                "--var-exp and --lr-exp go together",
                hint="e.g. --var-exp 0,-1,-2 --lr-exp 1,0,-1 (Chen et al. Table 2's μP)",
            )
        out.append(
            ABCParametrization.from_layerwise(
                parse_rational_list(args.var_exp, "--var-exp"),
                parse_rational_list(args.lr_exp, "--lr-exp"),
                name=args.name or "layerwise",
            )
        )
    for q in out:
        if args.depth is not None and q.depth != args.depth:
            raise ParametrizationError(
                f"{q.name}: {q.depth + 1} exponents per list means L = {q.depth} hidden "
                f"layers, but --depth is {args.depth}",
                hint=f"give L+1 = {args.depth + 1} exponents per list, or drop --depth",
            )
    return out


def _parametrizations(args: argparse.Namespace) -> list[ABCParametrization]:
    names = [n for item in args.preset for n in item.split(",") if n.strip()]
    out: list[ABCParametrization] = []
    if args.table1:
        depth = 2 if args.depth is None else args.depth
        out += [preset(n, 1 if n == "mfp" else depth) for n in TABLE1]
    if names:
        if args.depth is None:
            raise ParametrizationError(
                "--preset needs --depth", hint="e.g. tensorprog classify --preset mup --depth 3"
            )
        out += [preset(n, args.depth) for n in names]
    out += _custom(args)
    if not out:
        raise ParametrizationError(
            "nothing to classify",
            hint="give --preset NAME --depth L, or --a/--b/--c, or --var-exp/--lr-exp, "
            "or --table1",
        )
    return out


def _can_print_unicode() -> bool:
    try:
        "✓✗—ηΘΔ≤→θ".encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def run(args: argparse.Namespace) -> int:
    """Classify and print; returns the exit code."""
    ks = [classify(q) for q in _parametrizations(args)]
    if args.json:
        print_json({"classifications": [k.to_dict() for k in ks]})
    else:
        print(format_table(ks, ascii_only=args.ascii or not _can_print_unicode()))
    return 0
