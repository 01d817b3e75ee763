"""TP4 (Yang & Hu, arXiv:2011.14522) §9.3 / Table 3 at small scale: CBOW Word2Vec with negative
sampling in the μP limit, at finite widths, in the NTK/GP limit, and gensim's ``Word2Vec``.

Models (keys of the results):
- ``"inf"``: the μP limit — the finite-width code at width V with identity input rows and zero
  output rows (see :mod:`tensorprog.experiments.w2v_train`); memory 2·V²·4 bytes.
- ``"64"``, ``"256"``, …: finite μP networks (TP4's parametrization, same learning rate).
- ``"ntk"``: the NTK/GP limit. Its features never move (TP4 Cor. 3.9), so the embeddings are the
  initial ones: orthonormal in the limit, and every candidate ties in Eq. 35 — accuracy exactly
  1/(|V| − 3). Computed by evaluating the identity embeddings with exact tie credit.
- ``"gensim_64"``, …: ``gensim.models.Word2Vec`` (CBOW, same window, negatives, epochs, sample,
  learning-rate schedule; its own standard initialisation, no weight decay, and the context
  update not divided by the context size).

>>> from tensorprog.experiments.word2vec import parse_widths
>>> parse_widths("64,256,inf")
[64, 256, 'inf']
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..budget import physical_memory_mb
from ..errors import TensorProgError
from .w2v_corpus import ENWIKI_SAMPLE, QUESTIONS, Encoded, Vocab, gensim_data, load_corpus
from .w2v_eval import analogy_accuracy, figure_pairs, load_questions, pca_figure
from .w2v_train import PRESETS, TrainConfig, TrainStats, init_state, train_cbow

Progress = Callable[[int, int, str], None]


#: Largest finite width (documented runs go to 1024; each width holds two V × width matrices).
MAX_WIDTH = 1_000_000


def parse_widths(text: str) -> list[int | str]:
    """``"64,256,inf"`` → [64, 256, "inf"] (finite widths ascending, then the limit)."""
    out: list[int | str] = []
    for part in text.split(","):
        part = part.strip().lower()
        if part in ("inf", "infinity", "∞"):
            out.append("inf")
        elif part.isdigit() and int(part) > MAX_WIDTH:
            raise TensorProgError(
                f"width {int(part):,} is more than {MAX_WIDTH:,}",
                hint=f"use widths up to {MAX_WIDTH:,} (two vocabulary × width matrices each), "
                "or inf for the μP limit",
            )
        elif part.isdigit() and int(part) >= 1:
            out.append(int(part))
        else:
            raise TensorProgError(
                f"bad width {part!r}", hint="widths are positive integers or inf, e.g. 64,256,inf"
            )
    finite = sorted({w for w in out if w != "inf"})
    return [*finite, *(["inf"] if "inf" in out else [])]


def make_config(preset: str, **overrides) -> TrainConfig:
    """A preset (``gensim`` or ``tp4``) with the non-None ``overrides`` applied."""
    if preset not in PRESETS:
        raise TensorProgError(f"unknown preset {preset!r}", hint=f"use one of {sorted(PRESETS)}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    return dataclasses.replace(PRESETS[preset], **changes)


def _ram_bytes() -> int:
    """This machine's physical memory in bytes (0 if unknown: then nothing is refused)."""
    return int((physical_memory_mb() or 0) * 2**20)


def check_limit_memory(vocab_size: int) -> int:
    """Bytes the μP limit needs (two V×V float32 blocks); refuse if over half the RAM."""
    need = 2 * vocab_size * vocab_size * 4
    ram = _ram_bytes()
    if ram and need > ram // 2:
        raise TensorProgError(
            f"the μP limit needs two {vocab_size}×{vocab_size} float32 blocks "
            f"({need / 2**30:.1f} GiB), more than half of this machine's {ram / 2**30:.1f} GiB",
            hint="raise --min-count to shrink the vocabulary, or drop inf from --widths",
        )
    return need


def check_finite_memory(vocab_size: int, widths: list[int]) -> int:
    """Bytes the largest finite width needs (E and O, V × n float64, plus the float32 copy
    kept for evaluation); refuse if over half the RAM, before anything is allocated."""
    if not widths:
        return 0
    n = max(widths)
    need = 3 * vocab_size * n * 8
    ram = _ram_bytes()
    if ram and need > ram // 2:
        raise TensorProgError(
            f"width {n} needs {vocab_size}×{n} matrices ({need / 2**30:.1f} GiB), more than "
            f"half of this machine's {ram / 2**30:.1f} GiB",
            hint="use smaller --widths, or raise --min-count to shrink the vocabulary",
        )
    return need


def gensim_train(sentences: list[list[str]], width: int, config: TrainConfig,
                 workers: int = 1) -> tuple[np.ndarray, list[str], float]:  # fmt: skip
    """gensim's CBOW Word2Vec on the same sentences; (vectors, words, seconds per epoch)."""
    try:
        from gensim.models import Word2Vec
    except ImportError:  # pragma: no cover
        raise TensorProgError("gensim is not installed",
                              hint='pip install -e ".[experiments]"') from None  # fmt: skip
    model = Word2Vec(vector_size=width, window=config.window, negative=config.negative,
                     sample=config.sample, min_count=config.min_count, sg=0, hs=0, cbow_mean=1,
                     alpha=config.lr, min_alpha=config.lr * 1e-4, workers=workers,
                     seed=config.seed, epochs=config.epochs)  # fmt: skip
    model.build_vocab(sentences)
    t0 = time.perf_counter()
    model.train(sentences, total_examples=len(sentences), epochs=config.epochs)
    secs = (time.perf_counter() - t0) / config.epochs
    return model.wv.vectors, list(model.wv.index_to_key), secs


def corpus_words(corpus: Encoded, vocab: Vocab) -> list[list[str]]:
    """The encoded sentences as words (in-vocabulary words only, same sentence cuts)."""
    w = vocab.words
    t, s = corpus.tokens, corpus.starts
    return [[w[i] for i in t[s[k] : s[k + 1]]] for k in range(len(s) - 1)]


def run_word2vec(
    *,
    corpus: str | Path | None = None,
    questions: str | Path | None = None,
    preset: str = "gensim",
    widths: list[int | str] | None = None,
    out: str | Path | None = None,
    overrides: dict | None = None,
    with_gensim: bool = True,
    init_seed: int = 0,
    init: str = "uniform",
    progress: Progress | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Train every requested model (finite μP widths start ``init`` = uniform, as TP4's code, or
    gaussian, both with variance 1/n), evaluate them on the analogy questions, write the PCA figure
    (``out/word2vec_pca.png``) when ``out`` is given; return the results (JSON-ready)."""
    config = make_config(preset, **(overrides or {}))
    widths = widths if widths is not None else [64, 256, 1024, "inf"]
    corpus_path = Path(corpus) if corpus else gensim_data(ENWIKI_SAMPLE)
    questions_path = Path(questions) if questions else gensim_data(QUESTIONS)
    qs = load_questions(questions_path)
    t0 = time.perf_counter()
    vocab, enc, _ = load_corpus(corpus_path, config.min_count)
    if "inf" in widths:
        check_limit_memory(vocab.size)
    check_finite_memory(vocab.size, [w for w in widths if w != "inf"])
    say = log or (lambda _msg: None)
    say(f"corpus {corpus_path.name}: {int(enc.starts[-1])} tokens in vocabulary, "
        f"V = {vocab.size}, {len(enc.starts) - 1} sentences ({time.perf_counter() - t0:.1f} s)")

    V = vocab.size
    planned = int(enc.starts[-1]) * config.epochs
    jobs: list[tuple[str, int | str, str]] = [(str(w), w, "mup") for w in widths]
    if with_gensim:
        jobs += [(f"gensim_{w}", w, "gensim") for w in widths if w != "inf"]
    total = planned * len(jobs)
    models: dict[str, dict] = {}
    embeddings: dict[str, np.ndarray] = {}

    for k, (key, width, kind) in enumerate(jobs):
        base = k * planned

        def tick(done: int, _total: int, key=key, base=base) -> None:
            if progress is not None:
                progress(base + done, total, f"width {key}")

        t1 = time.perf_counter()
        if kind == "gensim":
            vecs, gwords, secs = gensim_train(corpus_words(enc, vocab), int(width), config)
            pos = {w: i for i, w in enumerate(gwords)}
            E = vecs[[pos[w] for w in vocab.words]]
            stats = TrainStats(seconds=[secs] * config.epochs)
            tick(planned, total)
        else:
            E, O, m = init_state(V, None if width == "inf" else int(width),
                                 kind="limit" if width == "inf" else "mup",
                                 init=init, seed=init_seed)  # fmt: skip
            stats = train_cbow(enc, vocab, E, O, config, m=m, progress=tick)
            del O
        res = analogy_accuracy(E, vocab.words, qs)
        res.update(
            kind={"mup": "μP limit" if width == "inf" else "μP", "gensim": "gensim"}[kind],
            width=V if width == "inf" else width,
            seconds_per_epoch=float(np.mean(stats.seconds)),
            train_seconds=time.perf_counter() - t1,
            loss=stats.loss,
        )
        models[key] = res
        if kind == "mup" and (width == "inf" or all(k == "inf" for k in embeddings)):
            embeddings[key] = E  # the smallest finite width and the limit, for the figure
        say(f"{key:>12}: accuracy {fmt_pct(res['accuracy'])} "
            f"({res['seen']}/{res['total']} seen), {res['seconds_per_epoch']:.1f} s/epoch")

    # NTK/GP limit: frozen features are orthonormal in the limit → the identity embeddings
    ntk = analogy_accuracy(np.eye(V, dtype=np.float32), vocab.words, qs)
    ntk.update(kind="NTK/GP limit", width=None, chance=1.0 / (V - 3))
    models["ntk"] = ntk

    result = {
        "preset": preset,
        "config": dataclasses.asdict(config),
        "corpus": {"path": str(corpus_path), "tokens": int(enc.starts[-1]), "vocab": V,
                   "sentences": len(enc.starts) - 1},  # fmt: skip
        "questions": {"path": str(questions_path), "total": len(qs)},
        "accuracy": {k: v["accuracy"] for k, v in models.items()},
        "models": models,
    }
    if out is not None:
        result["figure"] = write_figure(Path(out), vocab, qs, embeddings, widths, init_seed)
    return result


def write_figure(out: Path, vocab: Vocab, qs, embeddings: dict, widths, seed: int) -> str | None:
    """TP4 Figure 1 in this setting: NTK (initial features), the smallest width, the limit."""
    section, pairs = figure_pairs(qs, vocab.words)
    if len(pairs) < 2:
        return None
    E_ntk, _, _ = init_state(vocab.size, 1024, kind="ntk", seed=seed)
    panels = [("NTK/GP (features = initialization)", E_ntk)]
    finite = [k for k in embeddings if k != "inf"]
    if finite:
        panels.append((f"μP width {finite[0]}", embeddings[finite[0]]))
    if "inf" in embeddings:
        panels.append(("μP limit (width ∞)", embeddings["inf"]))
    path = out / "word2vec_pca.png"
    pca_figure(panels, vocab.words, pairs, path, section)
    return str(path)


def fmt_pct(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}"


def markdown_table(result: dict) -> str:
    """Table 3 in this setting: accuracy (%) per model, overall / semantic / syntactic."""
    rows = ["| model | width | seen/total | accuracy % | semantic % | syntactic % | s/epoch |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    for key, m in result["models"].items():
        width = "∞" if key == "inf" else ("—" if m["width"] is None else str(m["width"]))
        spe = m.get("seconds_per_epoch")
        rows.append(
            f"| {m['kind']} | {width} | {m['seen']}/{m['total']} | {fmt_pct(m['accuracy'])} | "
            f"{fmt_pct(m['semantic'])} | {fmt_pct(m['syntactic'])} | "
            f"{'' if spe is None else f'{spe:.1f}'} |"
        )
    return "\n".join(rows)
