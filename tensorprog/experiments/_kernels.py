"""Infinite-width kernels of 1-hidden-layer networks (for the kernel MAML baselines).

First layer ``u = w·x/√d + b`` with w ~ N(0, I), b ~ N(0, σ_b²), so the preactivation
covariance is ``Σ(x, z) = x·z/d + σ_b²``. For φ = relu (arc-cosine kernels of Cho & Saul,
with θ the angle between x and z under Σ):

* NNGP  ``E[φ(u)φ(v)] = √(Σ_xx Σ_zz) (sin θ + (π − θ) cos θ) / (2π)``;
* NTK   ``NNGP + Σ(x, z) E[φ'(u)φ'(v)] = NNGP + Σ(x, z) (π − θ) / (2π)``.

For φ = identity both are Σ itself (up to a factor 2 for the NTK, absorbed by the tuned scale):
a linear model (TP4, Yang & Hu, arXiv:2011.14522, §9.2).
"""

from __future__ import annotations

import numpy as np

from ..errors import TensorProgError

KINDS = ("linear", "relu-gp", "relu-ntk")


def kernel(kind: str, X: np.ndarray, Z: np.ndarray, sigma_b2: float = 1.0) -> np.ndarray:
    """The (len(X), len(Z)) kernel matrix of ``kind`` (see the module docstring)."""
    if kind not in KINDS:
        raise TensorProgError(f"unknown kernel '{kind}'", hint=f"one of: {', '.join(KINDS)}")
    d = X.shape[1]
    S = X @ Z.T / d + sigma_b2
    if kind == "linear":
        return S
    nx = np.sqrt(np.einsum("ij,ij->i", X, X) / d + sigma_b2)
    nz = np.sqrt(np.einsum("ij,ij->i", Z, Z) / d + sigma_b2)
    cos = np.clip(S / np.outer(nx, nz), -1.0, 1.0)
    theta = np.arccos(cos)
    gp = np.outer(nx, nz) * (np.sin(theta) + (np.pi - theta) * cos) / (2 * np.pi)
    if kind == "relu-gp":
        return gp
    return gp + S * (np.pi - theta) / (2 * np.pi)
