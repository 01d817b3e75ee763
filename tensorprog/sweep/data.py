"""Small real training sets for sweeps, from the data scikit-learn ships (no download).

The features are standardized and projected on their top ``dims`` principal components (each
component rescaled to unit variance), ``examples`` rows are drawn with a fixed seed, and every
number is rounded to ``digits`` decimals, so the examples are exact rationals and a point's
content hash pins the data.

* ``diabetes``: regression (442 patients, 10 features); the target is standardized.
* ``digits``: classification (1797 8×8 images); the target is +1 for digits 5–9, −1 for 0–4.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import TensorProgError


@lru_cache(maxsize=8)
def _raw(source: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn import datasets  # local: the optional `experiments` extra
    except ImportError:
        raise TensorProgError(
            f"data source '{source}' needs scikit-learn",
            hint="pip install 'tensorprog[experiments]'",
        ) from None
    if source == "diabetes":
        X, y = datasets.load_diabetes(return_X_y=True)
        y = (y - y.mean()) / y.std()
    elif source == "digits":
        X, y = datasets.load_digits(return_X_y=True)
        y = np.where(y >= 5, 1.0, -1.0)
    else:
        raise TensorProgError(f"unknown data source '{source}'", hint="diabetes or digits")
    return np.asarray(X, float), np.asarray(y, float)


def _text(v: float, digits: int) -> str:
    q = Fraction(round(float(v), digits)).limit_denominator(10**digits)
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


def load_data(desc: dict[str, Any]) -> tuple[list[list[str]], list[str]]:
    """(inputs, targets) as exact number texts for a ``data`` table of a sweep spec."""
    X, y = _raw(desc["source"])
    dims, n, digits = desc["dims"], desc["examples"], desc["digits"]
    if dims > X.shape[1]:
        raise TensorProgError(f"{desc['source']} has {X.shape[1]} features, dims = {dims}")
    if n > len(X):
        raise TensorProgError(f"{desc['source']} has {len(X)} rows, examples = {n}")
    sd = X.std(axis=0)
    Z = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    _, _, Vt = np.linalg.svd(Z, full_matrices=False)
    V = Vt[:dims].T
    V = V * np.sign(V[np.argmax(np.abs(V), axis=0), range(dims)])  # deterministic signs
    P = Z @ V
    P = P / P.std(axis=0)
    rows = np.random.default_rng(desc["seed"]).permutation(len(X))[:n]
    xs = [[_text(v, digits) for v in P[r]] for r in rows]
    ys = [_text(y[r], digits) for r in rows]
    for k, ex in enumerate(xs):
        if all(Fraction(v) == 0 for v in ex):  # a zero input cannot enter a Tensor Program
            xs[k] = [_text(10.0**-digits, digits)] + ex[1:]
    return xs, ys
