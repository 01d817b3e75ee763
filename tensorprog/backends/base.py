"""What every polynomial backend provides, and shared helpers.

A backend holds the Z's of a program as polynomials in generators u_0 … u_{n-1}: the independent
LDLᵀ innovations u_k ~ N(0, d_k) (expectation route "innovations", docs/engine.md) or the atoms
themselves (route "isserlis"). The polynomial domain (tensorprog.polynomial) uses only this
interface:

* ``K``                       scalar domain (sympy domain or an adapter from .domains)
* ``exact``                   whether results are exact
* ``zero``, ``const(c)``, ``gen(k)``, ``linear({k: c})``, ``scale(p, c)``
* polynomial arithmetic ``p + q``, ``p - q``, ``-p``, ``backend.mul(p, q)``, ``p ** n``
* ``set_pivot(k, d_k)``       variance of innovation k (known when atom k is created)
* ``expect(p)``               E[p] over independent innovations:
                              E[∏ u_k^{a_k}] = ∏ d_k^{a_k/2} (a_k − 1)!! (0 if some a_k is odd)
* ``inner(p, q)``             E[p q], without forming p q where that is cheaper
* ``terms(p)``                (exponent tuple, coefficient) pairs (for the Isserlis route)
* ``substitute_linear(p, {k: linear poly})``, ``to_sympy(p)``, ``stats(p)``
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from flint import fmpz

_LOG10_2 = math.log10(2)


@dataclass(frozen=True)
class PolyStats:
    """Size of a polynomial: number of terms, largest coefficient in decimal digits (numerator
    plus denominator for rationals; 0 for floats), total degree."""

    terms: int
    digits: int
    degree: int


def digits_of_bits(bits: int) -> int:
    """Decimal digits of an integer with ``bits`` bits (rounded up)."""
    return int(bits * _LOG10_2) + 1 if bits else 1


def digits_of_rational(p: int, q: int) -> int:
    return digits_of_bits(abs(p).bit_length()) + (digits_of_bits(q.bit_length()) if q != 1 else 0)


class DoubleFactorials:
    """(a − 1)!! for even a: the Gaussian moments E[u^a] of a unit-variance u. Small ones are
    cached in a table; large ones (a > TABLE) are computed directly as a!/(2^{a/2} (a/2)!) by
    FLINT, so E[x^100000] does not hold every smaller double factorial (gigabytes)."""

    TABLE = 2048

    def __init__(self) -> None:
        self._table = [1, 1]  # _table[a] = (a − 1)!!
        self._big: dict[int, int] = {}

    def __call__(self, a: int) -> int:
        a = int(a)
        if a > self.TABLE:
            hit = self._big.get(a)
            if hit is None:
                h = a // 2
                hit = int(fmpz.fac_ui(a) // (fmpz.fac_ui(h) << h))
                if len(self._big) > 64:
                    self._big.clear()
                self._big[a] = hit
            return hit
        t = self._table
        while len(t) <= a:
            n = len(t)
            t.append(t[n - 2] * (n - 1))
        return t[a]


def dfact_bits(a: int) -> int:
    """An upper bound on the bits of (a − 1)!! (a even): log2 of a!/(2^{a/2}(a/2)!)."""
    a = int(a)
    if a <= 2:
        return 1
    return int((math.lgamma(a + 1) - math.lgamma(a // 2 + 1)) / math.log(2) - a // 2) + 2


DFACT = DoubleFactorials()


def log_dfact(a: int) -> float:
    """log((a − 1)!!) for even a >= 0, by lgamma (used by the float backends)."""
    if a <= 0:
        return 0.0
    k = a // 2
    return math.lgamma(a + 1) - k * math.log(2) - math.lgamma(k + 1)


@dataclass
class DegreePlan:
    """Degree bounds of a program's polynomials (see the module docstring).

    ``total[name]``: total degree bound of Z^name; ``max_total``: of every polynomial formed
    (Moment integrands and covariance integrands included); ``node_degree``: the largest degree
    formed at each node, in program order;
    ``var_bound[k]``: degree bound in innovation k over every polynomial formed (None
    when there are more than MAX_TRACKED_VARS atoms); ``linear``: every Z is affine in the atoms;
    ``polynomial``: every Nonlin/Moment is polynomial in the vectors.
    """

    n_atoms: int
    total: dict[str, int] = field(default_factory=dict)
    max_total: int = 0
    var_bound: tuple[int, ...] | None = None
    linear: bool = True
    polynomial: bool = True
    node_degree: dict[str, int] = field(default_factory=dict)
