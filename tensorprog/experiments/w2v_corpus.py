"""Word2Vec data: text8-style cleaning of a Wikipedia XML dump, plain-text corpora, the vocabulary
with its frequent-word subsampling and unigram^0.75 negative-sampling tables.

The cleaning follows the rules of Matt Mahoney's ``wikifil.pl`` (the filter that made text8, the
corpus of TP4 (Yang & Hu, arXiv:2011.14522) §9.3): keep only article text, drop redirects,
references, tags, URLs, image/category/interlanguage markup and templates, keep the visible text
of links, lowercase, spell digits out, everything else becomes a space.
"""

from __future__ import annotations

import bz2
import gzip
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import TensorProgError

# word2vec.c cuts sentences at 1000 words (MAX_SENTENCE_LENGTH); so do we.
MAX_SENTENCE = 1000
ENWIKI_SAMPLE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
QUESTIONS = "questions-words.txt"

_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_ENTITIES = (("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'))
_SUBS = [  # (pattern, replacement, flags) applied in order, as wikifil.pl does
    (r"<ref[^<]*</ref>", "", 0),  # references
    (r"<[^>]*>", "", 0),  # any other (x)html tag
    (r"\[https?:[^\] ]*", "[", 0),  # external URL: keep the visible text
    (r"\|thumb", "", re.I),  # image options: keep the caption
    (r"\|left", "", re.I),
    (r"\|right", "", re.I),
    (r"\|\d+px", "", re.I),
    (r"\[\[(?:image|file):[^\[\]]*\|", "", re.I),
    (r"\[\[category:([^|\]]*)[^\]]*\]\]", r"[[\1]]", re.I),  # categories: the name only
    (r"\[\[[a-z\-]*:[^\]]*\]\]", "", 0),  # interlanguage links
    (r"\[\[[^|\]]*\|", "[[", 0),  # [[target|text]]: keep text
]
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")  # innermost {{template}}, removed until none is left
_BRACES = re.compile(r"\{[^{}]*\}")  # {| tables |} and other braces
_TEXT = re.compile(r"<text[^>]*>(.*?)</text>", re.S)
_NON_ALPHA = re.compile(r"[^a-z]+")


def clean_wiki_markup(text: str) -> str:
    """The visible words of one article's wiki text (as stored in the dump, XML-escaped):
    lowercase a–z words separated by single spaces, digits spelled out.

    >>> clean_wiki_markup("The [[Paris|city]] had 25&lt;ref&gt;x&lt;/ref&gt; {{cite|y}}bridges.")
    'the city had two five bridges'
    """
    for old, new in _ENTITIES:
        text = text.replace(old, new)
    for pat, rep, flags in _SUBS:
        text = re.sub(pat, rep, text, flags=flags)
    prev = None
    while prev != text:  # nested templates: innermost first
        prev, text = text, _TEMPLATE.sub("", text)
    text = _BRACES.sub("", text)
    text = text.replace("[", "").replace("]", "")
    text = re.sub(r"&[^;\s]*;", " ", text)  # any entity left (&nbsp; ...)
    text = text.lower()
    for d, name in enumerate(_DIGITS):
        text = text.replace(str(d), f" {name} ")
    return _NON_ALPHA.sub(" ", text).strip()


def wiki_articles(xml: str) -> Iterator[str]:
    """The cleaned text of each non-redirect article of a MediaWiki XML dump."""
    for m in _TEXT.finditer(xml):
        body = m.group(1)
        if re.match(r"\s*#redirect", body, re.I):
            continue
        words = clean_wiki_markup(body)
        if words:
            yield words


def check_regular(path: Path, flag: str) -> None:
    """Refuse a FIFO, device or socket before opening it (reading one would block forever)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # the reader reports a missing or unreadable file in its own words
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise TensorProgError(f"cannot read {flag} file '{path}': it is not a regular file "
                              "(a FIFO, device or socket)", hint="give the path of a text file")


def _open_text(path: Path) -> str:
    opener = {".bz2": bz2.open, ".gz": gzip.open}.get(path.suffix, open)
    check_regular(path, "--corpus")
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except FileNotFoundError:
        raise TensorProgError(
            f"corpus file not found: {path}", hint="give an existing file with --corpus"
        ) from None
    except (OSError, EOFError) as e:
        raise TensorProgError(
            f"{path}: cannot read ({e})", hint="a plain-text, .gz or .bz2 file is expected"
        ) from None


def gensim_data(name: str) -> Path:
    """A file of gensim's shipped test data (the ``experiments`` extra)."""
    try:
        from gensim.test.utils import datapath
    except ImportError:  # pragma: no cover - the extra is installed in CI
        raise TensorProgError(
            "gensim is not installed, so its shipped corpus is unavailable",
            hint='pip install -e ".[experiments]", or pass --corpus/--questions',
        ) from None
    return Path(datapath(name))


def read_sentences(path: str | Path) -> list[list[str]]:
    """Sentences (lists of words) of a corpus file: a MediaWiki XML dump (cleaned as text8,
    one sentence per article) or plain text (one sentence per line, whitespace-separated words,
    kept as they are). ``.bz2`` and ``.gz`` files are decompressed."""
    path = Path(path)
    if path.is_dir():
        raise TensorProgError(f"{path} is a directory", hint="--corpus takes a text file")
    text = _open_text(path)
    if "<mediawiki" in text[:2000]:
        return [article.split() for article in wiki_articles(text)]
    return [line.split() for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class Vocab:
    """Words kept at ``min_count``, most frequent first (ties: first occurrence first)."""

    words: tuple[str, ...]
    counts: np.ndarray  # int64, aligned with words
    min_count: int

    @property
    def size(self) -> int:
        return len(self.words)

    @property
    def total(self) -> int:
        """Number of corpus tokens in the vocabulary (the ``train_words`` of word2vec.c)."""
        return int(self.counts.sum())

    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def keep_probabilities(self, sample: float) -> np.ndarray:
        """word2vec.c's subsampling: word w with count c is kept with probability
        min(1, (sqrt(c / (s T)) + 1) · s T / c), T = total count, s = ``sample`` (0: keep all)."""
        c = self.counts.astype(np.float64)
        if sample <= 0:
            return np.ones_like(c)
        st = sample * self.total
        return np.minimum(1.0, (np.sqrt(c / st) + 1.0) * st / c)

    def negative_cdf(self, power: float = 0.75) -> np.ndarray:
        """Cumulative distribution of negative samples: P(w) ∝ count(w)^power."""
        p = self.counts.astype(np.float64) ** power
        cdf = np.cumsum(p / p.sum())
        cdf[-1] = 1.0
        return cdf


def build_vocab(sentences: Iterable[list[str]], min_count: int) -> Vocab:
    """Count words; keep those seen at least ``min_count`` times."""
    counts: dict[str, int] = {}
    for s in sentences:
        for w in s:
            counts[w] = counts.get(w, 0) + 1
    order = sorted(counts.items(), key=lambda kv: -kv[1])  # stable: first occurrence first
    kept = [(w, c) for w, c in order if c >= min_count]
    return Vocab(tuple(w for w, _ in kept), np.array([c for _, c in kept], np.int64), min_count)


@dataclass(frozen=True)
class Encoded:
    """A corpus as vocabulary ids: ``tokens[starts[k]:starts[k+1]]`` is sentence k (words outside
    the vocabulary dropped, sentences cut at MAX_SENTENCE words)."""

    tokens: np.ndarray  # int32
    starts: np.ndarray  # int64, len = sentences + 1


def encode(sentences: Iterable[list[str]], vocab: Vocab) -> Encoded:
    idx = vocab.index()
    toks: list[int] = []
    starts = [0]
    for s in sentences:
        ids = [idx[w] for w in s if w in idx]
        for k in range(0, len(ids), MAX_SENTENCE):
            toks.extend(ids[k : k + MAX_SENTENCE])
            starts.append(len(toks))
    return Encoded(np.array(toks, np.int32), np.array(starts, np.int64))


def load_corpus(path: str | Path, min_count: int) -> tuple[Vocab, Encoded, list[list[str]]]:
    """Read, build the vocabulary and encode; refuses corpora too small to train on."""
    if min_count < 1:
        raise TensorProgError(f"min-count must be at least 1, got {min_count}")
    sentences = read_sentences(path)
    vocab = build_vocab(sentences, min_count)
    if vocab.size < 4:
        raise TensorProgError(
            f"{path}: only {vocab.size} distinct words occur at least {min_count} times "
            f"({sum(map(len, sentences))} tokens read)",
            hint="Word2Vec needs a vocabulary of at least 4 words: use a larger corpus "
            "or a smaller --min-count",
        )
    return vocab, encode(sentences, vocab), sentences
