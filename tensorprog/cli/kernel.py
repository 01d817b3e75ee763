"""`tensorprog kernel`: exact NNGP and NTK of an MLP at given inputs."""

from __future__ import annotations

import argparse
from fractions import Fraction

import sympy as sp

from ..errors import TensorProgError
from ..result import latex_value
from ._budget import add_budget_options, budget_from_args
from ._output import exact_text, matrix_rows, number_items, print_json
from ._progress import add_progress_options, progress_from_args


def parse_rational(text: str) -> sp.Rational:
    """'3', '-1/2', '0.25', '1e-3' as an exact Rational (decimal text is exact), no eval."""
    try:
        f = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise TensorProgError(
            f"'{text}' is not a number", hint="write integers, fractions like 1/2, or decimals"
        ) from None
    return sp.Rational(f.numerator, f.denominator)


def parse_inputs(text: str) -> list[list[sp.Rational]]:
    """'1,0; 1,1' -> [[1, 0], [1, 1]] (inputs separated by ';', coordinates by ',')."""
    rows = [r for r in text.split(";") if r.strip()]
    if not rows:
        raise TensorProgError("--inputs is empty", hint="e.g. --inputs '1,0; 1,1'")
    return [[parse_rational(c) for c in number_items(r, "--inputs")] for r in rows]


#: Deeper kernels take minutes to build before any budget applies (and are rarely the question).
MAX_DEPTH = 10_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "kernel",
        help="exact NNGP and NTK of an MLP",
        description="Exact NNGP and NTK kernels of an MLP with DEPTH hidden layers, in "
        "neural-tangents' stax conventions (Dense(W_std, b_std=0), NTK parametrization, "
        "first layer divided by the input dimension). Exact for polynomial activations.",
    )
    p.add_argument("--depth", type=int, required=True, help="number of hidden layers L >= 1")
    p.add_argument("--activation", required=True, help="expression in x, e.g. 'x^2'")
    p.add_argument("--inputs", required=True, help="inputs, e.g. '1,0; 1,1; -1,2'")
    p.add_argument("--weight-var", default="1", help="W_std^2 (default 1), e.g. 2")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--latex", action="store_true", help="LaTeX matrices")
    add_budget_options(p)
    add_progress_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..kernels import mlp_kernels

    if not 1 <= args.depth <= MAX_DEPTH:
        raise TensorProgError(f"--depth must be between 1 and {MAX_DEPTH:,}, got {args.depth}",
                              hint="the kernel program grows linearly with the depth")
    xs = parse_inputs(args.inputs)
    bar = progress_from_args(args)
    try:
        k = mlp_kernels(xs, args.depth, args.activation,
                        weight_var=parse_rational(args.weight_var),
                        budget=budget_from_args(args), progress=bar)  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print_json({
            "inputs": [[exact_text(v) for v in r] for r in xs],
            "nngp": [[exact_text(v) for v in k.nngp.row(i)] for i in range(k.nngp.rows)],
            "ntk": [[exact_text(v) for v in k.ntk.row(i)] for i in range(k.ntk.rows)],
            "exact": True,
        })
    elif args.latex:
        print(r"K_{\mathrm{NNGP}} = " + _latex_matrix(k.nngp))
        print(r"\Theta_{\mathrm{NTK}} = " + _latex_matrix(k.ntk))
    else:
        print("NNGP (exact):")
        print("\n".join(matrix_rows(k.nngp)))
        print("NTK (exact):")
        print("\n".join(matrix_rows(k.ntk)))
    return 0


def _latex_matrix(M: sp.Matrix) -> str:
    rows = [" & ".join(latex_value(M[i, j]) for j in range(M.cols)) for i in range(M.rows)]
    return "\\begin{pmatrix} " + " \\\\ ".join(rows) + " \\end{pmatrix}"
