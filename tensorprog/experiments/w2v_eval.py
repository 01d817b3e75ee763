"""Word analogy evaluation (TP4 (Yang & Hu, arXiv:2011.14522) Eq. 35, the 3CosAdd rule of the
Google analogy set) and the Figure-1-style PCA of word embeddings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SourceLoc, TensorProgError
from .w2v_corpus import check_regular


@dataclass(frozen=True)
class Question:
    """``a : b :: c : d`` from section ``section`` (line ``line`` of the file)."""

    section: str
    a: str
    b: str
    c: str
    d: str
    line: int

    @property
    def semantic(self) -> bool:
        """The Google set's syntactic sections are named ``gram…``; the others are semantic."""
        return not self.section.startswith("gram")


def load_questions(path: str | Path) -> list[Question]:
    """Questions of a file in the ``questions-words.txt`` format: ``: section`` lines, then lines
    of four words. Words are lowercased (the vocabulary is matched case-insensitively)."""
    path = Path(path)
    check_regular(path, "--questions")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise TensorProgError(
            f"questions file not found: {path}", hint="give an existing file with --questions"
        ) from None
    except (IsADirectoryError, PermissionError) as e:
        raise TensorProgError(f"{path}: cannot read ({e.strerror})") from None
    out: list[Question] = []
    section = ""
    for k, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(":"):
            section = line[1:].strip()
            continue
        words = line.lower().split()
        if len(words) != 4:
            raise TensorProgError(
                f"expected 4 words, found {len(words)}",
                loc=SourceLoc(str(path), k, 1, raw),
                hint="each question line is 'a b c d' (a is to b as c is to d)",
            )
        out.append(Question(section, *words, line=k))
    if not out:
        raise TensorProgError(f"{path}: no analogy questions found",
                              hint="the questions-words.txt format is expected")  # fmt: skip
    return out


def normalize_rows(E: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), as float32."""
    E = np.asarray(E, np.float32)
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    return E / np.where(norms > 0, norms, 1.0)


def analogy_accuracy(
    E: np.ndarray, words: tuple[str, ...] | list[str], questions: list[Question],
    batch: int = 256,
) -> dict:  # fmt: skip
    """3CosAdd: answer argmax_x over the vocabulary minus {a, b, c} of x̂·(b̂ − â + ĉ) on
    L2-normalised rows; questions with a word outside the vocabulary are skipped.

    Ties are scored exactly: if k words share the top score and d is one of them, the question
    counts 1/k (the expected accuracy of a uniformly random tie-break). So features that never
    learned anything — orthonormal rows, the NTK/GP limit — score exactly 1/(|V| − 3).

    Returns counts and accuracies (fractions of the questions seen) overall and for the semantic
    and syntactic sections."""
    index: dict[str, int] = {}
    for i, w in enumerate(words):  # case-insensitive; the most frequent spelling wins
        index.setdefault(w.lower(), i)
    seen = [q for q in questions if all(w in index for w in (q.a, q.b, q.c, q.d))]
    ids = np.array([[index[w] for w in (q.a, q.b, q.c, q.d)] for q in seen], np.int64)
    sem = np.array([q.semantic for q in seen], bool)
    credit = np.zeros(len(seen))
    N = normalize_rows(E)
    # orthonormal rows given as the identity: the scores are the target vectors themselves
    eye = N.shape[0] == N.shape[1] and np.count_nonzero(N) == N.shape[0] and bool(
        np.all(np.diagonal(N) == 1)
    )
    for lo in range(0, len(seen), batch):
        qa, qb, qc, qd = ids[lo : lo + batch].T
        T = N[qb] - N[qa] + N[qc]
        S = T if eye else T @ N.T
        r = np.arange(len(qa))
        for col in (qa, qb, qc):
            S[r, col] = -np.inf
        best = S.max(axis=1)
        ties = (S == best[:, None]).sum(axis=1)
        credit[lo : lo + batch] = (S[r, qd] == best) / ties
    nsem = int(sem.sum())
    nsyn = len(seen) - nsem

    def frac(x: float, n: int) -> float | None:
        return x / n if n else None

    return {
        "total": len(questions),
        "seen": len(seen),
        "correct": float(credit.sum()),
        "accuracy": frac(float(credit.sum()), len(seen)),
        "semantic_seen": nsem,
        "semantic": frac(float(credit[sem].sum()), nsem),
        "syntactic_seen": nsyn,
        "syntactic": frac(float(credit[~sem].sum()), nsyn),
    }


CLIP = 4.0  # figure: robust units shown around the median
FIGURE_SECTIONS = ("city-in-state", "capital-common-countries", "capital-world")


def figure_pairs(questions: list[Question], words, limit: int = 12) -> tuple[str, list]:
    """(section, [(city, state/country), ...]): in-vocabulary pairs of the first of
    FIGURE_SECTIONS with at least 6 of them (TP4 Figure 1 uses top US cities and states),
    most frequent cities first."""
    rank = {w.lower(): i for i, w in reversed(list(enumerate(words)))}
    best: tuple[str, list] = ("", [])
    for sec in FIGURE_SECTIONS:
        pairs = {(q.a, q.b) for q in questions if q.section == sec}
        pairs |= {(q.c, q.d) for q in questions if q.section == sec}
        pairs_in = sorted((p for p in pairs if p[0] in rank and p[1] in rank),
                          key=lambda p: rank[p[0]])  # fmt: skip
        cities: set[str] = set()
        chosen = []
        for p in pairs_in:  # one state per city
            if p[0] not in cities:
                cities.add(p[0])
                chosen.append(p)
        if len(chosen) >= 6:
            return sec, chosen[:limit]
        if len(chosen) > len(best[1]):
            best = (sec, chosen[:limit])
    return best


def pca_figure(panels: list[tuple[str, np.ndarray]], words, pairs, path: str | Path,
               section: str = "") -> None:  # fmt: skip
    """One 2-D PCA panel per (title, embeddings): the pairs' normalised rows projected on their
    top two principal components, cities and states/countries in two colours, a line per pair."""
    import matplotlib  # local: optional heavy dependency, only for figures

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    index: dict[str, int] = {}
    for i, w in enumerate(words):
        index.setdefault(w.lower(), i)
    left = [a for a, _ in pairs]
    right = list(dict.fromkeys(b for _, b in pairs))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4))
    axes = np.atleast_1d(axes)
    for ax, (title, E) in zip(axes, panels):
        names = left + right
        X = normalize_rows(np.asarray(E)[[index[w] for w in names]]).astype(np.float64)
        X = X - X.mean(axis=0)
        _, _, vt = np.linalg.svd(X, full_matrices=False)
        Y = X @ vt[:2].T
        # each component in robust units (median absolute deviation), so that one or two far
        # words do not squash the rest; words beyond ±CLIP units are drawn on the border (▲)
        Y = (Y - np.median(Y, axis=0)) / np.maximum(
            1.4826 * np.median(np.abs(Y - np.median(Y, axis=0)), axis=0), 1e-12
        )
        out = np.abs(Y) > CLIP
        Y = np.clip(Y, -CLIP, CLIP)
        pos = {w: Y[i] for i, w in enumerate(names)}
        far = {w for i, w in enumerate(names) if out[i].any()}
        for a, b in pairs:
            ax.plot([pos[a][0], pos[b][0]], [pos[a][1], pos[b][1]], color="0.8", lw=0.8, zorder=1)
        for group, color in ((left, "tab:blue"), (right, "tab:red")):
            for clipped, marker in ((False, "o"), (True, "^")):
                P = np.array([pos[w] for w in group if (w in far) == clipped]).reshape(-1, 2)
                ax.scatter(P[:, 0], P[:, 1], s=14, color=color, marker=marker, zorder=2)
            for w in group:
                ax.annotate(w, pos[w], fontsize=7, color=color, xytext=(2, 2),
                            textcoords="offset points")  # fmt: skip
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"PCA of CBOW Word2Vec embeddings ({section}): blue = first word, red = second "
                 "(robust units; ▲ = beyond the frame)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
