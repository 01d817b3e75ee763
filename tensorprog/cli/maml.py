"""`tensorprog maml`: few-shot learning with first-order MAML (TP4 §9.2, Yang & Hu,
arXiv:2011.14522) on scikit-learn's digits: the μP limit of a 1-hidden-layer linear network,
its finite widths, and NNGP/NTK kernel baselines.

    tensorprog maml --widths 2,8,32,128,512,2048,inf --kernels all --out runs/maml
    tensorprog maml --widths 8,inf --kernels none --quick --out /tmp/m --json --no-progress

Writes DIR/results.json, DIR/table.md and DIR/curves.png.
"""

from __future__ import annotations

import argparse

from ..errors import TensorProgError
from ..files import output_dir, write_text
from ._args import Bound, check_ints
from ._output import json_text, print_json
from ._progress import add_progress_options, progress_from_args

OUTPUTS = ("results.json", "table.md", "curves.png")
#: Each seed is a full meta-training run of every model; batches and tasks are loop counts.
MAX_SEEDS = 100
MAX_COUNT = 100_000


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``maml`` subcommand."""
    p = subparsers.add_parser(
        "maml",
        help="first-order MAML few-shot learning: μP limit vs finite widths vs kernels",
        description="Meta-train on digits 0–4 (plus 90/180/270° rotations as extra classes), "
        "meta-test on digits 5–9, 5-way 1-shot, first-order MAML as TP4 §9.2 (inner step "
        "0.4, 32 tasks per batch, clip 0.5). Models: the μP limit of the 1-hidden-layer linear "
        "net ('inf'), its finite widths, and NNGP/NTK kernel models. Meta-lr and init "
        "multiplier are tuned per model on a validation split (the grid is in results.json).",
    )
    p.add_argument("--widths", default="2,8,32,128,512,inf",
                   help="comma-separated widths and/or 'inf' (default 2,8,32,128,512,inf)")
    p.add_argument("--kernels", default="all",
                   help="kernel models: 'all', 'none' or a comma list of "
                   "linear-gp,relu-gp,relu-ntk (default all)")  # fmt: skip
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--force", action="store_true",
                   help="replace results.json, table.md and curves.png if --out holds them")
    p.add_argument("--seeds", type=int,
                   help=f"seeds per model (default 3; quick: 1; at most {MAX_SEEDS})")
    p.add_argument("--batches", type=int,
                   help="meta-batches per final run (default 300; quick: 20)")  # fmt: skip
    p.add_argument("--tune-batches", type=int,
                   help="meta-batches per tuning run (default 150; quick: 10)")  # fmt: skip
    p.add_argument("--test-tasks", type=int,
                   help="meta-test tasks (default 500; quick: 50)")  # fmt: skip
    p.add_argument("--meta-lrs", help="tuning grid of meta learning rates (default 0.03,0.1,0.3)")
    p.add_argument("--no-tune", action="store_true",
                   help="skip tuning: meta-lr 0.1 and TP4's init (σ₂ = 1/32; kernel scale 1)")
    p.add_argument("--transfer-from", type=int, default=512,
                   help="widths >= this reuse the μP limit's tuned numbers (0: tune all; 512)")
    p.add_argument("--quick", action="store_true", help="a tiny run (seconds) to try things")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    add_progress_options(p)
    p.set_defaults(func=run)


def _models(args) -> list[str]:
    from ..experiments.maml import KERNEL_MODELS, check_model

    models = [check_model(w) for w in args.widths.split(",") if w.strip()]
    k = args.kernels.strip()
    if k == "all":
        models += list(KERNEL_MODELS)
    elif k != "none":
        for name in k.split(","):
            if name.strip() not in KERNEL_MODELS:
                raise TensorProgError(f"unknown kernel model '{name.strip()}'",
                                      hint=f"one of: {', '.join(KERNEL_MODELS)}")  # fmt: skip
            models.append(name.strip())
    if not models:
        raise TensorProgError("no models to run", hint="give --widths and/or --kernels")
    return list(dict.fromkeys(models))


def _floats(text: str, what: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise TensorProgError(f"{what}: cannot read '{text}' as numbers",
                              hint="e.g. 0.03,0.1,0.3") from None  # fmt: skip
    if not vals or any(not (v > 0) for v in vals):
        raise TensorProgError(f"{what} must be positive numbers")
    return vals


def run(args: argparse.Namespace) -> int:
    from ..experiments import maml as M

    models = _models(args)
    cfg = M.MAMLConfig()
    if args.quick:
        cfg = M.MAMLConfig(seeds=1, batches=20, tune_batches=10, test_tasks=50, curve_every=10,
                           curve_tasks=20, val_tasks=30, meta_lrs=(0.1,),
                           mup_inits=(1 / 32,), kernel_inits=(1.0,))  # fmt: skip
    for opt, field in (("seeds", "seeds"), ("batches", "batches"),
                       ("tune_batches", "tune_batches"), ("test_tasks", "test_tasks")):  # fmt: skip
        v = getattr(args, opt)
        if v is not None:
            if v < 1:
                raise TensorProgError(f"--{opt.replace('_', '-')} must be >= 1, got {v}")
            setattr(cfg, field, v)
    count = Bound(1, MAX_COUNT, "a loop count")
    check_ints(args, seeds=Bound(1, MAX_SEEDS, "each seed meta-trains every model"),
               batches=count, tune_batches=count, test_tasks=count)  # fmt: skip
    cfg.curve_every = max(1, min(cfg.curve_every, cfg.batches))
    if args.meta_lrs:
        cfg.meta_lrs = _floats(args.meta_lrs, "--meta-lrs")
    cfg.transfer_from = max(0, args.transfer_from)
    hypers = None
    if args.no_tune:
        hypers = {m: M.Hyper(0.1, 1.0 if m in M.KERNEL_MODELS else 1 / 32) for m in models}
        hypers.setdefault("inf", M.Hyper(0.1, 1 / 32))
    out = output_dir(args.out, OUTPUTS, force=args.force, what="--out directory")
    bar = progress_from_args(args)
    try:
        results = M.run(models, cfg, hypers=hypers, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    write_text(out / "results.json", json_text(results), force=True)  # checked up front
    table = M.markdown_table(results)
    write_text(out / "table.md", table + "\n", force=True)
    M.plot_curves(results, str(out / "curves.png"))
    if args.json:
        print_json(results)
    else:
        print(table)
        print(f"\nwrote {out / 'results.json'}, {out / 'table.md'}, {out / 'curves.png'}")
    return 0
