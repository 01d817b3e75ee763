"""`tensorprog word2vec`: TP4 Table 3 and Figure 1 at small scale — CBOW Word2Vec with negative
sampling in the μP limit, at finite μP widths, in the NTK/GP limit, and gensim's Word2Vec.

    tensorprog word2vec --preset gensim --out w2v
    tensorprog word2vec --preset tp4 --widths 64,256,1024,inf --out w2v-tp4 --no-progress
    tensorprog word2vec --corpus my.txt --widths 64,inf --epochs 1 --out w2v-mine --json

The default corpus is the English Wikipedia sample gensim ships (cleaned as text8), the default
questions the Google analogy set gensim ships (both need the ``experiments`` extra). Any
plain-text corpus with one sentence per line works. Writes DIR/results.json (analogy accuracy
per model, keyed by width: "64", ..., "inf" for the μP limit, "ntk", "gensim_64", ...),
DIR/table.md and DIR/word2vec_pca.png. The μP limit holds two V×V float32 blocks.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import TensorProgError
from ..files import output_dir, write_text
from . import _args as A
from ._output import check_positive, json_text, print_json
from ._progress import add_progress_options, progress_from_args

OUTPUTS = ("results.json", "table.md", "word2vec_pca.png")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``word2vec`` subcommand."""
    p = subparsers.add_parser(
        "word2vec",
        help="TP4 §9.3: Word2Vec in the μP limit vs finite widths, NTK and gensim (Table 3)",
        description=" ".join(
            (__doc__.split("\n\n")[0].split(": ", 1)[1] + " " + __doc__.split("\n\n")[2]).split()
        ),
        epilog="examples: "
        + "; ".join(line.strip() for line in __doc__.split("\n\n")[1].splitlines()),
    )
    p.add_argument("--corpus", help="corpus file: a MediaWiki XML dump or plain text, one "
                   "sentence per line (.bz2/.gz ok); default: gensim's enwiki sample")
    p.add_argument("--questions", help="analogy questions (questions-words.txt format); "
                   "default: the Google set gensim ships")
    p.add_argument("--preset", choices=("gensim", "tp4"), default="gensim",
                   help="gensim: window 5, negative 5, sample 1e-3, lr 0.025, 5 epochs; "
                   "tp4: window 8, negative 25, sample 1e-4, lr 0.05, weight decay 0.001, "
                   "15 epochs (TP4's text8 runs); both min-count 5")
    p.add_argument("--widths", default="64,256,1024,inf",
                   help="comma-separated finite widths and/or inf (default 64,256,1024,inf)")
    p.add_argument("--out", required=True, help="output directory (created if missing)")
    p.add_argument("--force", action="store_true",
                   help="replace results.json, table.md and word2vec_pca.png if --out holds them")
    p.add_argument("--epochs", type=int, help="override the preset's epochs (up to 1000)")
    p.add_argument("--window", type=int, help="override the preset's window (up to 1000)")
    p.add_argument("--negative", type=int,
                   help="override the preset's negatives (up to 1000)")
    p.add_argument("--min-count", type=int, help="override the min-count (5)")
    p.add_argument("--seed", type=int, default=1,
                   help=f"seed of the example stream (1; 0 to {A.MAX_SEED:,})")
    p.add_argument("--init-seed", type=int, default=0,
                   help=f"seed of the initial weights (0; 0 to {A.MAX_SEED:,})")
    p.add_argument("--init", choices=("uniform", "gaussian"), default="uniform",
                   help="finite widths' input rows: uniform (TP4's code) or Gaussian, "
                   "variance 1/n either way")
    p.add_argument("--no-gensim", action="store_true", help="skip the gensim baselines")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    add_progress_options(p)
    p.set_defaults(func=run)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from ..experiments.word2vec import markdown_table, parse_widths, run_word2vec

    for opt in ("epochs", "window", "negative", "min_count"):
        v = getattr(args, opt)
        if v is not None:
            check_positive(v, "--" + opt.replace("_", "-"))
    loops = A.Bound(1, 1000, "a loop count over the whole corpus")
    A.check_ints(args, epochs=loops, window=loops, negative=loops, seed=A.SEED,
                 init_seed=A.SEED)  # fmt: skip
    widths = parse_widths(args.widths)
    try:
        import gensim  # noqa: F401
    except ImportError:  # pragma: no cover
        if not args.no_gensim or not (args.corpus and args.questions):
            raise TensorProgError("gensim is not installed",
                                  hint='pip install -e ".[experiments]"') from None  # fmt: skip
    out = output_dir(args.out, OUTPUTS, force=args.force, what="--out directory")
    bar = progress_from_args(args)
    log = None if args.json else (lambda msg: print(msg, file=sys.stderr, flush=True))
    try:
        result = run_word2vec(
            corpus=args.corpus, questions=args.questions, preset=args.preset, widths=widths,
            out=out, with_gensim=not args.no_gensim, init_seed=args.init_seed, init=args.init,
            overrides={"epochs": args.epochs, "window": args.window, "seed": args.seed,
                       "negative": args.negative, "min_count": args.min_count},
            progress=bar, log=None if bar is not None else log,
        )  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    table = markdown_table(result)
    write_text(out / "results.json", json_text(result) + "\n", force=True)  # checked up front
    write_text(out / "table.md", table + "\n", force=True)
    if args.json:
        print_json(result)
        return 0
    c = result["corpus"]
    print(f"preset {result['preset']}: {c['tokens']} tokens, V = {c['vocab']}, "
          f"{result['config']['epochs']} epochs")  # fmt: skip
    print(table)
    ntk = result["models"]["ntk"]
    print(f"\nNTK/GP limit: features frozen at initialization, orthonormal as n → ∞, so every "
          f"candidate ties in 3CosAdd: accuracy 1/(V − 3) = {ntk['chance']:.3g}")
    print(f"wrote {out / 'results.json'}, {out / 'table.md'}"
          + (f", {result['figure']}" if result.get("figure") else ""))  # fmt: skip
    return 0
