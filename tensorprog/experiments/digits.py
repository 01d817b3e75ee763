"""An Omniglot-like few-shot protocol on scikit-learn's shipped digits (no downloads).

TP4 (Yang & Hu, arXiv:2011.14522) §9.2 meta-trains on Omniglot characters, each class augmented
by its 90/180/270° rotations as new classes. Here: scikit-learn's ``load_digits`` (1,797 8×8
images, 10 digits, pixel values 0..16 scaled to [0, 1]); class ``4·digit + r`` is the digit
rotated by r·90°, so 40 classes. Meta-train on digits 0–4 (20 classes), meta-test on digits
5–9 (20 classes); a validation split for tuning takes 5 of the 20 meta-train classes
(drawn with seed 0) and meta-trains on the other 15. N-way 1-shot tasks with 1 query per class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import TensorProgError

ROTATIONS = 4


@dataclass(frozen=True)
class Digits:
    """All rotated images: ``X`` (N, 64) in [0, 1] and their classes ``y`` = 4·digit + r."""

    X: np.ndarray
    y: np.ndarray


def load() -> Digits:
    """The 1,797 digits and their three rotations (7,188 images, 40 classes)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - the experiments extra is missing
        raise TensorProgError(
            "the MAML experiment needs scikit-learn's digits",
            hint='install the experiments extra: pip install -e ".[experiments]"',
        ) from None
    data = load_digits()
    imgs = data.images / 16.0
    Xs, ys = [], []
    for r in range(ROTATIONS):
        Xs.append(np.rot90(imgs, k=r, axes=(1, 2)).reshape(len(imgs), -1))
        ys.append(data.target * ROTATIONS + r)
    return Digits(np.concatenate(Xs), np.concatenate(ys))


def classes_of(digits: range | list[int]) -> list[int]:
    return [d * ROTATIONS + r for d in digits for r in range(ROTATIONS)]


def splits() -> dict[str, list[int]]:
    """Class lists: ``train`` (digits 0–4), ``test`` (5–9), and the tuning split
    ``tune_train`` / ``val`` (15 / 5 of the meta-train classes, seed 0)."""
    train = classes_of(range(5))
    val = sorted(np.random.default_rng(0).choice(train, 5, replace=False).tolist())
    return {
        "train": train,
        "test": classes_of(range(5, 10)),
        "tune_train": [c for c in train if c not in val],
        "val": val,
    }


@dataclass
class TaskBatch:
    """T tasks of N-way 1-shot learning: support ``Xs`` (T, N, d), query ``Xq`` (T, N, d),
    both labelled 0..N−1 in order; ``is_`` / ``iq`` (T, N): their row indices in the data."""

    Xs: np.ndarray
    Xq: np.ndarray
    is_: np.ndarray
    iq: np.ndarray

    def __len__(self) -> int:
        return self.Xs.shape[0]

    def part(self, start: int, stop: int) -> TaskBatch:
        """Tasks start..stop−1."""
        sl = slice(start, stop)
        return TaskBatch(self.Xs[sl], self.Xq[sl], self.is_[sl], self.iq[sl])

    @property
    def labels(self) -> np.ndarray:
        return np.arange(self.Xs.shape[1])


class TaskSampler:
    """Samples tasks from a set of classes: N distinct classes in random order (label j is the
    j-th drawn class), and for each class two distinct images (support, query)."""

    def __init__(self, data: Digits, classes: list[int], ways: int = 5) -> None:
        if ways > len(classes):
            raise TensorProgError(f"{ways}-way tasks need at least {ways} classes")
        self.data = data
        self.ways = ways
        self.members = [np.flatnonzero(data.y == c) for c in classes]

    def sample(self, rng: np.random.Generator, tasks: int) -> TaskBatch:
        sup = np.empty((tasks, self.ways), dtype=int)
        qry = np.empty((tasks, self.ways), dtype=int)
        for t in range(tasks):
            for j, c in enumerate(rng.choice(len(self.members), self.ways, replace=False)):
                sup[t, j], qry[t, j] = rng.choice(self.members[c], 2, replace=False)
        return TaskBatch(self.data.X[sup], self.data.X[qry], sup, qry)
