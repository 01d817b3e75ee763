"""Word2Vec speed: the μP limit (this project's numba loop at width V, identity start) against
gensim's CBOW at vector_size = V — the same effective width, one thread each — plus the finite
μP widths and gensim at the same widths. Prints model, width, seconds per epoch, peak memory
(tracemalloc: numpy and gensim arrays), CPU seconds (the machine may be shared: wall time
alone can mislead), analogy accuracy after the epochs run, and the ratio
limit / gensim(V).

    python benchmarks/word2vec.py                          # gensim preset, 1 epoch, ~2 min
    python benchmarks/word2vec.py --preset tp4 --epochs 1 --widths 64 1024
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from tensorprog.experiments.w2v_corpus import (  # noqa: E402
    ENWIKI_SAMPLE,
    QUESTIONS,
    Encoded,
    gensim_data,
    load_corpus,
)
from tensorprog.experiments.w2v_eval import analogy_accuracy, load_questions  # noqa: E402
from tensorprog.experiments.w2v_train import init_state, train_cbow  # noqa: E402
from tensorprog.experiments.word2vec import corpus_words, gensim_train, make_config  # noqa: E402


def measure(fn):
    """(result, peak bytes allocated while fn ran, CPU seconds of this process meanwhile)."""
    tracemalloc.start()
    c0 = time.process_time()
    try:
        out = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return out, peak, time.process_time() - c0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--preset", default="gensim", choices=("gensim", "tp4"))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--widths", type=int, nargs="*", default=[64, 256, 1024])
    args = ap.parse_args(argv)
    config = make_config(args.preset, epochs=args.epochs)
    vocab, enc, _ = load_corpus(gensim_data(ENWIKI_SAMPLE), config.min_count)
    qs = load_questions(gensim_data(QUESTIONS))
    V = vocab.size
    sentences = corpus_words(enc, vocab)
    # compile (or load the cached compilation of) the loop outside the timings
    E, O, m = init_state(V, 4, kind="mup")
    train_cbow(Encoded(enc.tokens, enc.starts[:2]), vocab, E, O, make_config("gensim", epochs=1))
    print(f"preset {args.preset}, {args.epochs} epoch(s), {int(enc.starts[-1])} tokens, V = {V}, "
          f"1 thread each")
    rows = []

    def ours(width):
        def fn():
            E, O, m = init_state(V, width, kind="limit" if width is None else "mup")
            st = train_cbow(enc, vocab, E, O, config, m=m)
            return E, float(np.mean(st.seconds))
        return fn

    def theirs(width):
        def fn():
            vecs, words, secs = gensim_train(sentences, width, config, workers=1)
            pos = {w: i for i, w in enumerate(words)}
            return vecs[[pos[w] for w in vocab.words]], secs
        return fn

    jobs = [("μP (ours)", w, ours(w)) for w in args.widths]
    jobs += [("gensim", w, theirs(w)) for w in args.widths]
    jobs += [("μP limit (ours)", V, ours(None)), ("gensim", V, theirs(V))]
    for name, width, fn in jobs:
        t0 = time.perf_counter()
        (E, spe), peak, cpu = measure(fn)
        cpu /= config.epochs
        acc = analogy_accuracy(E, vocab.words, qs)["accuracy"]
        rows.append((name, width, spe, cpu, peak, acc, time.perf_counter() - t0))
        print(f"  {name:<16} {width:>6}  {spe:8.2f} s/epoch  {cpu:8.2f} CPU s/epoch  "
              f"{peak / 2**20:8.0f} MiB  {100 * acc:6.2f} %", flush=True)
        del E
    print()
    print("| model | width | s/epoch | CPU s/epoch | peak MiB | accuracy % | wall s |")
    print("|---|---|---|---|---|---|---|")
    for name, width, spe, cpu, peak, acc, wall in rows:
        print(f"| {name} | {width} | {spe:.2f} | {cpu:.2f} | {peak / 2**20:.0f} | {100 * acc:.2f} "
              f"| {wall:.1f} |")
    lim = next(r for r in rows if r[0] == "μP limit (ours)")
    gen = next(r for r in rows if r[0] == "gensim" and r[1] == V)
    print(f"\nμP limit / gensim at vector_size = V = {V}: {lim[2] / gen[2]:.2f}× wall "
          f"({lim[2]:.1f} s vs {gen[2]:.1f} s per epoch), {lim[3] / gen[3]:.2f}× CPU "
          f"({lim[3]:.1f} s vs {gen[3]:.1f} s; CPU includes initialisation and, for gensim, "
          f"its vocabulary scan)")


if __name__ == "__main__":
    main()
