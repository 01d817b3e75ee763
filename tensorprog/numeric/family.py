"""A Gaussian family on particles (TP4 Def. 7.3 ZHat), and ZDot by Stein's lemma.

A family holds its atoms as combinations of independent standard innovations s_j:
atom = Σ_j T_ij s_j over the *pivot* atoms (those that brought a new innovation), T lower
triangular. A new atom with covariances c (with the pivot atoms) and variance v is drawn
conditionally on the earlier atoms, exactly as in an incremental Cholesky factorization:

    ℓ = T⁻¹ c,   d = v − |ℓ|²,   atom = Σ_j ℓ_j s_j + √d · s_new     (s_new only if d > 0).

A zero (or numerically zero) d means the atom is a combination of earlier ones: no innovation is
added, which is how singular covariances (repeated MatMuls, linear activations) are handled.

ZDot (TP4 Eq. 31) by Stein's lemma, derivative-free: for independent standard s_j,
E[s_j Z^x] = E[∂Z^x/∂s_j] = Σ_i T_ij e_i with e_i = E[∂Z^x/∂Ẑ_i], so e solves Tᵀ e = β with
β_j = E[s_j Z^x]; then Ż^{W̄x} = σ² Σ_i e_i Z^{y_i}. β is estimated by least squares on the
particles (the empirical Gram of the s_j in place of the identity), which is Stein's estimate
with the s_j s_k − δ_jk as control variates.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: A pivot smaller than this fraction of the atom's variance counts as zero. The particle
#: covariances are Gram matrices (PSD up to rounding), so exact dependencies show up as ~1e-16.
RTOL = 1e-9


class NumericFamily:
    """Atoms of one matrix-with-orientation (or of the initial vectors) on a particle set."""

    def __init__(self, name: str, sigma2: float) -> None:
        self.name = name
        self.sigma2 = sigma2
        self.T = np.zeros((0, 0))
        self.innov: list[np.ndarray] = []
        self.gram = np.zeros((0, 0))  # empirical E[s_j s_k]
        self.pivot_inputs: list[str] = []  # the y of each pivot atom Ẑ^{W̄y}
        self.size = 0  # number of atoms, pivot or not

    @property
    def rank(self) -> int:
        return len(self.innov)

    def add(
        self,
        var: float,
        cov: np.ndarray,
        label: str,
        innovation: Callable[[], np.ndarray],
        inner: Callable[[np.ndarray, np.ndarray], float],
        size: int,
    ) -> np.ndarray:
        """Draw the new atom given its variance and covariances with the pivot atoms."""
        r = self.rank
        ell = np.linalg.solve(self.T, cov) if r else np.zeros(0)
        d = var - float(ell @ ell)
        atom = np.zeros(size)
        for j in range(r):
            if ell[j]:
                atom += ell[j] * self.innov[j]
        self.size += 1
        if d > RTOL * max(var, 0.0):
            s = innovation()
            atom += np.sqrt(d) * s
            T = np.zeros((r + 1, r + 1))
            T[:r, :r] = self.T
            T[r, :r] = ell
            T[r, r] = np.sqrt(d)
            self.T = T
            G = np.zeros((r + 1, r + 1))
            G[:r, :r] = self.gram
            for j in range(r):
                G[r, j] = G[j, r] = inner(s, self.innov[j])
            G[r, r] = inner(s, s)
            self.gram = G
            self.innov.append(s)
            self.pivot_inputs.append(label)
        return atom

    def stein(self, zx: np.ndarray, inner: Callable[[np.ndarray, np.ndarray], float]) -> np.ndarray:
        """e with Tᵀ e = β, β_j = E[s_j Z^x] (least squares on the particles): the coefficients
        of Ż on the pivot atoms' inputs, before the factor σ²."""
        if not self.rank:
            return np.zeros(0)
        b = np.array([inner(s, zx) for s in self.innov])
        beta = np.linalg.solve(self.gram, b)
        return np.linalg.solve(self.T.T, beta)


def pivot_count(C: np.ndarray) -> int:
    """How many innovations a family with covariance ``C`` gets (same rule as ``add``)."""
    fam = NumericFamily("count", 1.0)
    pivots: list[int] = []
    for i in range(C.shape[0]):
        before = fam.rank
        fam.add(C[i, i], C[i, pivots], "", lambda: np.zeros(1), lambda a, b: 1.0, 1)
        if fam.rank > before:
            pivots.append(i)
    return fam.rank
