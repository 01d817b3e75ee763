"""Numeric infinite-width limits for any whitelisted nonlinearity (tanh, relu, gelu, ...).

TP4 §8 notes that expectations such as E[(Z₁ + bφ(Z₂)) φ(Z₃ + cZ₁φ'(Z₂))] have no closed form
for general φ. This package runs the same Z rules as the exact engine (TP4 Definition 7.3) with
expectations computed numerically, and reports every scalar with an error estimate. The rules
are tensorprog.zrules (written once for both engines); this package is their particle domain:

* particles.py   -- particle sets: Monte Carlo draws, or a tensor Gauss–Hermite grid;
* family.py      -- Gaussian families on particles (ZHat by conditional sampling) and ZDot by
  Stein's lemma;
* algebra.py     -- expressions evaluated on particles through tensorprog.functions;
* integrability.py -- whether an expectation exists (singularities, heavy tails);
* plan.py        -- when each vector can be freed; whether every function is smooth;
* domain.py      -- the particle domain, and one pass of the Z-calculus over a particle set;
* driver.py      -- :func:`derive_numeric`: method choice, batches/refinement, error estimates;
* result.py      -- :class:`NumericLimit`.

Usually reached through ``derive_limit(program, mode="numeric" | "auto", **options)``.
"""

from .driver import METHODS, derive_numeric
from .result import NumericLimit

__all__ = ["METHODS", "NumericLimit", "derive_numeric"]
