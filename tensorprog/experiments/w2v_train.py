"""CBOW Word2Vec with negative sampling (TP4 (Yang & Hu, arXiv:2011.14522) §9.3, Eqs. 33–34),
one numba-compiled SGD loop for the μP limit, finite widths and the NTK parametrization.

State: input rows ``E`` (V×n, row a = the embedding h(ξ^a)) and output rows ``O`` (V×n). A step on
a centre word i with context J: h = mean_{j∈J} E[j]; for the target τ = i (label 1) and
``negative`` draws τ ~ unigram^0.75 (label 0, draws equal to i skipped) the logit is
f = m · O[τ]·h, g = η (label − σ(f)); then O[τ] ← (1 − η λ) O[τ] + g m h and each context row
E[j] ← (1 − η λ) E[j] + (Σ_τ g m O[τ]) / |J| — the true gradient of the mean (TP4's word2vec.c;
gensim and the original word2vec.c do not divide by |J|). Weight decay λ touches only these rows.

Parametrizations (same loop, different start):
- μP at width n (TP4's code): E uniform with variance 1/n per entry, O = 0, m = 1.
- μP limit (TP4 §6.1 after Cor. 6.2, Appendix D.2): the finite network is E = A P, O = B P with
  P = E₀ (V×n) and A, B ∈ ℝ^{V×V}; every update reads only inner products through P Pᵀ, and
  P Pᵀ → I as n → ∞. So the limit is this very loop at width V with E₀ = I, O₀ = 0 (a V×V block
  each; TP4's code used width 2V whose second half never moves).
- NTK parametrization at width n: E, O entries N(0, 1), m = n^{-1/2}; the features E move
  O(n^{-1/2}) (TP4 Cor. 3.9), so the NTK/GP limit keeps its initial features.

Randomness of the example stream (window shrinking, subsampling, negatives) comes from its own
xorshift64* generator seeded by ``seed``, independent of the width: all widths and the limit see
the same examples, so their differences are width effects only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ..errors import TensorProgError
from .w2v_corpus import Encoded, Vocab


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run (a preset, possibly with overrides)."""

    window: int = 5
    negative: int = 5
    sample: float = 1e-3
    lr: float = 0.025
    epochs: int = 5
    weight_decay: float = 0.0
    min_count: int = 5
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("window", "epochs", "min_count"):
            if getattr(self, name) < 1:
                raise TensorProgError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.negative < 1:
            raise TensorProgError(f"negative must be at least 1, got {self.negative}")
        if not (self.lr > 0 and self.sample >= 0 and self.weight_decay >= 0):
            raise TensorProgError("lr must be positive, sample and weight decay non-negative")


PRESETS: dict[str, TrainConfig] = {
    # gensim.models.Word2Vec defaults (CBOW)
    "gensim": TrainConfig(window=5, negative=5, sample=1e-3, lr=0.025, epochs=5),
    # TP4's text8 runs (their train-text8*.sh): window 8, negative 25, sample 1e-4, lr 0.05,
    # weight decay 0.001, 15 iterations
    "tp4": TrainConfig(window=8, negative=25, sample=1e-4, lr=0.05, epochs=15,
                       weight_decay=0.001),
}  # fmt: skip


@dataclass
class TrainStats:
    """What a run measured: mean loss per epoch (per loss term: positives and negatives),
    examples (centre words with a non-empty context) and wall time per epoch."""

    loss: list[float] = field(default_factory=list)
    examples: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Initial states
def init_state(
    vocab_size: int,
    width: int | None,
    *,
    kind: str = "mup",
    init: str = "uniform",
    seed: int = 0,
    dtype=np.float32,
) -> tuple[np.ndarray, np.ndarray, float]:
    """(E₀, O₀, m) for ``kind`` = ``"limit"`` (width None: V×V identity, zeros), ``"mup"``
    (width n: entries uniform or Gaussian with variance 1/n, O₀ = 0, m = 1) or ``"ntk"``
    (width n: E₀, O₀ entries N(0, 1), m = n^{-1/2})."""
    V = vocab_size
    if kind == "limit":
        return np.eye(V, dtype=dtype), np.zeros((V, V), dtype), 1.0
    if width is None or width < 1:
        raise TensorProgError(f"a finite width ≥ 1 is needed for kind {kind!r}, got {width}")
    rng = np.random.default_rng(seed)
    if kind == "mup":
        if init == "uniform":  # TP4's code: uniform on ±sqrt(3/n), variance 1/n
            a = np.sqrt(3.0 / width)
            E = rng.uniform(-a, a, size=(V, width))
        elif init == "gaussian":
            E = rng.standard_normal((V, width)) / np.sqrt(width)
        else:
            raise TensorProgError(f"unknown init {init!r}", hint="use uniform or gaussian")
        return E.astype(dtype), np.zeros((V, width), dtype), 1.0
    if kind == "ntk":
        E = rng.standard_normal((V, width)).astype(dtype)
        O = rng.standard_normal((V, width)).astype(dtype)
        return E, O, 1.0 / np.sqrt(width)
    raise TensorProgError(f"unknown model kind {kind!r}", hint="use limit, mup or ntk")


# ---------------------------------------------------------------------------------------------
# The compiled loop
@njit(cache=True)
def _rand(state):
    """xorshift64* (Vigna): the next uniform in [0, 1); ``state`` is a 1-element uint64 array."""
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return float((x * np.uint64(2685821657736338717)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, fastmath=True)
def _train_sentences(tokens, starts, s_lo, s_hi, keep, cdf, E, O, window, negative, lr0,
                     planned, done, wd, m, state, stats):  # fmt: skip
    """SGD over sentences s_lo..s_hi-1; returns the updated count of words seen (``done``),
    which drives the linear learning-rate decay lr0·max(1 − done/(planned+1), 1e-4)."""
    V, n = E.shape
    neu1 = np.zeros(n, E.dtype)
    neu1e = np.zeros(n, E.dtype)
    sen = np.empty(starts[s_hi] - starts[s_lo] + 1, np.int64)
    for s in range(s_lo, s_hi):
        lr = lr0 * max(1.0 - done / (planned + 1.0), 1e-4)
        decay = E.dtype.type(1.0 - lr * wd)
        L = 0
        for k in range(starts[s], starts[s + 1]):  # frequent-word subsampling
            w = tokens[k]
            if keep[w] >= 1.0 or keep[w] > _rand(state):
                sen[L] = w
                L += 1
        done += starts[s + 1] - starts[s]
        for i in range(L):
            word = sen[i]
            b = min(int(_rand(state) * window), window - 1)  # window shrunk to window - b
            lo = max(0, i - window + b)
            hi = min(L, i + window - b + 1)
            cw = hi - lo - 1
            if cw <= 0:
                continue
            neu1[:] = 0
            for j in range(lo, hi):
                if j != i:
                    row = sen[j]
                    for c in range(n):
                        neu1[c] += E[row, c]
            inv = E.dtype.type(1.0 / cw)
            for c in range(n):
                neu1[c] *= inv
            neu1e[:] = 0
            for d in range(negative + 1):
                if d == 0:
                    target = word
                    label = 1.0
                else:
                    target = min(np.searchsorted(cdf, _rand(state), side="right"), V - 1)
                    if target == word:
                        continue
                    label = 0.0
                f = neu1[0] * 0
                for c in range(n):
                    f += neu1[c] * O[target, c]
                z = m * float(f)
                p = 1.0 / (1.0 + np.exp(-z))
                # -log σ(z) for the positive, -log σ(-z) for a negative (stable forms)
                zz = -z if label > 0 else z
                stats[0] += max(zz, 0.0) + np.log1p(np.exp(-abs(zz)))
                stats[1] += 1.0
                g = (label - p) * lr
                gm = E.dtype.type(g * m)
                for c in range(n):
                    neu1e[c] += gm * O[target, c]
                for c in range(n):
                    O[target, c] = decay * O[target, c] + gm * neu1[c]
            for c in range(n):
                neu1e[c] *= inv
            for j in range(lo, hi):
                if j != i:
                    row = sen[j]
                    for c in range(n):
                        E[row, c] = decay * E[row, c] + neu1e[c]
            stats[2] += 1.0
    return done


def train_cbow(
    corpus: Encoded,
    vocab: Vocab,
    E: np.ndarray,
    O: np.ndarray,
    config: TrainConfig,
    *,
    m: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
    chunk_words: int = 20000,
) -> TrainStats:
    """Train (E, O) in place for ``config.epochs`` epochs; the stream of examples depends only on
    the corpus and ``config.seed``. ``progress(done_words, total_words)`` is called per chunk."""
    if E.shape != O.shape or E.shape[0] != vocab.size or E.dtype != O.dtype:
        raise TensorProgError(f"state shapes {E.shape}, {O.shape} do not fit V = {vocab.size}")
    keep = vocab.keep_probabilities(config.sample)
    cdf = vocab.negative_cdf()
    starts = corpus.starts
    nsent = len(starts) - 1
    per_epoch = int(starts[-1])
    planned = float(per_epoch * config.epochs)
    state = np.array([np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(config.seed + 1)], np.uint64)
    stats_out = TrainStats()
    done = 0
    for _ in range(config.epochs):
        t0 = time.perf_counter()
        stats = np.zeros(3)
        s = 0
        while s < nsent:
            e = int(np.searchsorted(starts, starts[s] + chunk_words, side="right")) - 1
            e = min(max(e, s + 1), nsent)
            done = _train_sentences(corpus.tokens, starts, s, e, keep, cdf, E, O,
                                    config.window, config.negative, config.lr, planned, done,
                                    config.weight_decay, m, state, stats)  # fmt: skip
            s = e
            if progress is not None:
                progress(done, int(planned))
        stats_out.loss.append(float(stats[0] / max(stats[1], 1.0)))
        stats_out.examples.append(int(stats[2]))
        stats_out.seconds.append(time.perf_counter() - t0)
    return stats_out
