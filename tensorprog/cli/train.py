"""`tensorprog train`: the infinite-width limit of training any model described in `.tp`.

The model file declares its trainable parameters (``param vector`` / ``param matrix``), its
per-example inputs (``input``) and its outputs; the command generates the training program by
reverse-mode autodiff (tensorprog.transforms.train_program), derives its limit and prints
``f_t``, ``loss_t`` (``f_t_i``, ``loss_t_i`` with batches) and ``f_T_e``:

    tensorprog train rnn.tp --inputs='1,-1,1; 1,1,-1' --targets=1,-1 --lr 1/10
    tensorprog train rnn.tp --inputs='1,-1,1; 1,1,-1' --targets=1,-1 --lr 1/10 \\
        --width 1024 --seeds 10 --json

Inputs: one row of input values per example, in the model's ``input`` order, rows separated by
';' (a model with one input also takes '1,-1,2' as three examples). Targets: one number per
example (rows separated by ';' when the model has several outputs). One SGD step per
``--batch-size`` examples (default 1). A list that starts with '-' needs '=': --targets=-1,1.
Numbers are exact: integers, fractions like 1/50, decimals like 0.02.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..errors import TensorProgError
from ..ir import Program
from ..transforms.train import BATCH_REDUCTIONS, LOSSES, build_training, train_spec
from . import _args as A
from ._budget import add_budget_options
from ._output import print_json
from ._progress import add_progress_options
from .mlp import emit_and_derive, parse_examples, print_rows


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand."""
    p = subparsers.add_parser(
        "train",
        help="train any .tp model (param/input declarations): limit, .tp text, finite width",
        description="Generate the Tensor Program of training the model in MODEL.tp by SGD "
        "(reverse-mode autodiff; μP units: every trainable vector moves by its n-scaled "
        "gradient, every matrix by its gradient, times η and its lr multiplier), derive its "
        "infinite-width limit and print f_t, loss_t and f_T_e. A list that starts with '-' "
        "needs '=', e.g. --targets=-1,1.",
    )
    p.add_argument("model", metavar="MODEL.tp", help="the forward pass with param/input lines")
    p.add_argument(
        "--inputs", required=True,
        help="one row of input values per example, rows separated by ';': '1,-1,1; 1,1,-1'",
    )  # fmt: skip
    p.add_argument(
        "--targets", required=True,
        help="one target per example, comma-separated; a model with several outputs takes one "
        "row per example, rows separated by ';': '1,-1; 0,1'",
    )
    p.add_argument("--lr", required=True, help="learning rate η, e.g. 1/10")
    p.add_argument("--batch-size", type=int, default=1, help="examples per SGD step (1)")
    p.add_argument("--batch-reduction", choices=BATCH_REDUCTIONS, default="sum",
                   help="sum (default) or mean of the per-example gradients")  # fmt: skip
    p.add_argument("--steps", type=int,
                   help=f"SGD steps, cycling through the data (at most {A.MAX_STEPS:,})")
    p.add_argument("--epochs", type=int,
                   help=f"passes over the data (default 1; at most {A.MAX_STEPS:,} steps in all)")
    p.add_argument("--loss", choices=LOSSES, default="mse",
                   help="mse ½(f−y)² or logistic, summed over the outputs")  # fmt: skip
    p.add_argument("--momentum", default="0", help="heavy-ball momentum β (0)")
    p.add_argument("--weight-decay", default="0", help="weight decay λ (0)")
    p.add_argument("--clip-norm", help="clip the global gradient norm at this value")
    p.add_argument("--decoupled", action="store_true",
                   help="backprop through independent copies of W₀ᵀ (TP4 §6.2)")  # fmt: skip
    p.add_argument("--eval-inputs", help="rows on which the outputs are reported after training")
    p.add_argument("--emit", metavar="FILE.tp", help="write the training program as .tp text")
    p.add_argument("--force", action="store_true", help="let --emit replace an existing file")
    p.add_argument("--no-limit", action="store_true", help="do not derive the limit")
    p.add_argument(
        "--mode", choices=("auto", "exact", "float", "numeric"), default="auto",
        help="limit engine: exact, float, numeric, or auto (exact when possible; default)",
    )  # fmt: skip
    add_budget_options(p)
    add_progress_options(p)
    A.add_finite_width_options(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load, train, emit, derive, simulate, print."""
    from ..lang import load

    A.check_ints(args, steps=A.STEPS, epochs=A.STEPS, width=A.WIDTH, seeds=A.SEED_COUNT,
                 seed=A.SEED)  # fmt: skip
    model = load(args.model)
    old = sys.get_int_max_str_digits() if hasattr(sys, "set_int_max_str_digits") else None
    if old is not None:
        sys.set_int_max_str_digits(0)  # exact limits can have many thousand digits
    try:
        return run_model(model, args)
    finally:
        if old is not None:
            sys.set_int_max_str_digits(old)


def options_from_args(model: Program, args: argparse.Namespace) -> tuple[tuple, dict]:
    """(data, train_program keyword options) from the command line."""
    k, m = len(model.inputs), len(model.outputs)
    rows = parse_examples(args.inputs, "--inputs", max(k, 2) if k != 1 else 1)
    rows = [r if isinstance(r, list) else [r] for r in rows]
    targets = parse_examples(args.targets, "--targets", max(m, 2) if m != 1 else 1)
    evals = None
    if args.eval_inputs:
        evals = parse_examples(args.eval_inputs, "--eval-inputs", max(k, 2) if k != 1 else 1)
        evals = [r if isinstance(r, list) else [r] for r in evals]
    opts = dict(
        lr=args.lr, loss=args.loss, steps=args.steps, epochs=args.epochs,
        batch_size=args.batch_size, batch_reduction=args.batch_reduction,
        momentum=args.momentum, weight_decay=args.weight_decay, clip_norm=args.clip_norm,
        decoupled=args.decoupled, eval_inputs=evals or (),
    )  # fmt: skip
    return (rows, targets), opts


def run_model(model: Program, args: argparse.Namespace) -> int:
    """The command on an already loaded model (the CLI logic, testable without `.tp`)."""
    data, opts = options_from_args(model, args)
    spec = train_spec(model, data, **opts)

    def nodes_at(t: int) -> int:
        return len(build_training(model, train_spec(model, data, **{**opts, "steps": t,
                                                                     "epochs": None}))[0])

    A.check_program_size(nodes_at, spec.steps, f"{spec.steps:,} SGD steps",
                         hint="use fewer --steps or --epochs (or a larger --batch-size)")
    program, _ = build_training(model, spec)
    report: dict = {
        "model": model.name,
        "params": {n: {"role": p.role, "lr": str(p.lr)} for n, p in model.params.items()},
        "inputs": list(model.inputs),
        "steps": spec.steps,
        "nodes": len(program),
        "outputs": {},
    }
    if args.width:
        A.check_finite_run(program, args.width, args.seeds)
    rows = emit_and_derive(program, args, report)
    if args.width:
        from ..transforms.direct import train_direct

        if args.seeds < 1:
            raise TensorProgError("--seeds must be >= 1")
        runs = [
            train_direct(model, data, width=args.width, rng=s, **opts).outputs()
            for s in range(args.seed, args.seed + args.seeds)
        ]
        report["width"], report["seeds"] = args.width, args.seeds
        for name in rows:
            v = np.array([r[name] for r in runs])
            se = float(np.std(v, ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
            rows[name].update(finite_mean=float(np.mean(v)), finite_stderr=se)
    report["outputs"] = rows
    if args.json:
        print_json(report)
        return 0
    kind = "decoupled " if spec.decoupled else ""
    params = ", ".join(f"{n} ({p.role})" for n, p in model.params.items())
    print(
        f"model {model.name}: parameters {params}; inputs {', '.join(model.inputs) or '-'}; "
        f"{spec.steps} {kind}SGD steps (batch {spec.batch_size}, {spec.batch_reduction}), "
        f"η = {spec.lr}, loss {spec.loss}: {report['nodes']} program nodes"
    )
    print_rows(rows, report)
    return 0


__all__ = ["options_from_args", "register", "run", "run_model"]
