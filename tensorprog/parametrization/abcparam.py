"""abc-parametrizations of an L-hidden-layer MLP (TP4 §3.2) and their symmetry (TP4 Eq. (5)).

The MLP is h^1 = W^1 ξ, x^l = φ(h^l), h^{l+1} = W^{l+1} x^l, f = W^{L+1} x^L (TP4 Eq. (1)).
An abc-parametrization is given by exponents {a_l, b_l}_{l=1}^{L+1} and c (TP4 §1):

* (a) W^l = n^{-a_l} w^l for the trainable parameter w^l;
* (b) w^l_{αβ} ~ N(0, n^{-2 b_l}) at initialization;
* (c) the SGD learning rate is η n^{-c}.

TP4 Eq. (5): for every θ, (a_l + θ, b_l − θ, c − 2θ) -- the same θ for every layer -- gives the
same f_t(ξ) for all t and ξ. ``canonical`` picks the representative with c = 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sympy as sp

from ..errors import ParametrizationError
from .exact import fmt, to_rational, to_rationals


@dataclass(frozen=True)
class ABCParametrization:
    """Exponents of an abc-parametrization of an L-hidden-layer MLP (TP4 §3.2).

    ``a`` and ``b`` hold L+1 exponents each (layers 1..L+1; index 0 is layer 1), ``c`` the
    learning-rate exponent. All are exact sympy Rationals. ``name`` is a display label only and
    takes no part in equality.
    """

    a: tuple[sp.Rational, ...]
    b: tuple[sp.Rational, ...]
    c: sp.Rational
    name: str | None = field(default=None, compare=False)

    def __init__(
        self,
        a: Sequence[object] | str,
        b: Sequence[object] | str,
        c: object,
        name: str | None = None,
    ) -> None:
        av = to_rationals(a, "a")
        bv = to_rationals(b, "b")
        cv = to_rational(c, "c")
        if len(av) != len(bv):
            raise ParametrizationError(
                f"a has {len(av)} exponents but b has {len(bv)}",
                hint="give one a_l and one b_l for each layer l = 1..L+1",
            )
        if len(av) < 2:
            raise ParametrizationError(
                f"an L-hidden-layer MLP has L+1 >= 2 weight layers, got {len(av)} exponent(s)",
                hint="give a_1..a_{L+1} and b_1..b_{L+1} (e.g. 2 each for L = 1)",
            )
        object.__setattr__(self, "a", av)
        object.__setattr__(self, "b", bv)
        object.__setattr__(self, "c", cv)
        object.__setattr__(self, "name", name)

    @property
    def depth(self) -> int:
        """L, the number of hidden layers."""
        return len(self.a) - 1

    def a_(self, l: int) -> sp.Rational:
        """a_l with the paper's 1-based layer index l ∈ [1, L+1]."""
        return self.a[self._index(l)]

    def b_(self, l: int) -> sp.Rational:
        """b_l with the paper's 1-based layer index l ∈ [1, L+1]."""
        return self.b[self._index(l)]

    def _index(self, l: int) -> int:
        if not 1 <= l <= self.depth + 1:
            raise ParametrizationError(
                f"layer {l} is outside 1..{self.depth + 1} (L = {self.depth})"
            )
        return l - 1

    def shifted(self, theta: object) -> ABCParametrization:
        """The TP4 Eq. (5) image: a_l + θ, b_l − θ (all l), c − 2θ; same training dynamics."""
        t = to_rational(theta, "theta")
        return ABCParametrization(
            tuple(x + t for x in self.a),
            tuple(x - t for x in self.b),
            self.c - 2 * t,
            name=self.name,
        )

    def with_c(self, c: object) -> ABCParametrization:
        """The same a, b with learning-rate exponent c (a genuinely different parametrization)."""
        return ABCParametrization(self.a, self.b, c, name=self.name)

    def effective(self) -> tuple[tuple[sp.Rational, ...], tuple[sp.Rational, ...]]:
        """Per-layer (log_n Var W^l_{αβ}, log_n LR of W^l) with the multipliers absorbed.

        W^l = n^{-a_l} w^l has entries of variance n^{-2(a_l + b_l)}, and an SGD step on w^l with
        learning rate η n^{-c} moves W^l by -η n^{-(2 a_l + c)} ∇_{W^l} (the chain rule applies
        n^{-a_l} twice). This is the "init. var. / LR" form of Chen et al. (arXiv:2503.09565)
        Table 2.
        """
        var = tuple(-2 * (x + y) for x, y in zip(self.a, self.b, strict=True))
        lr = tuple(-(2 * x + self.c) for x in self.a)
        return var, lr

    @classmethod
    def from_layerwise(
        cls,
        variance_exponents: Sequence[object] | str,
        lr_exponents: Sequence[object] | str,
        name: str | None = None,
    ) -> ABCParametrization:
        """The canonical (c = 0) abc form of "Var W^l = n^{v_l}, LR of W^l = η n^{γ_l}".

        Inverts :meth:`effective`: a_l + b_l = -v_l/2 and 2a_l + c = -γ_l with c = 0.
        Example (Chen et al. Table 2, μP): v = (0, -1, -2), γ = (1, 0, -1) gives TP4's μP.
        """
        v = to_rationals(variance_exponents, "variance exponents")
        g = to_rationals(lr_exponents, "learning-rate exponents")
        if len(v) != len(g):
            raise ParametrizationError(
                f"{len(v)} variance exponents but {len(g)} learning-rate exponents",
                hint="give one of each per layer l = 1..L+1",
            )
        a = tuple(-x / 2 for x in g)
        b = tuple(-x / 2 - y for x, y in zip(v, a, strict=True))
        return cls(a, b, 0, name=name)

    def to_dict(self) -> dict[str, object]:
        """JSON-able form; rationals as exact ``p/q`` strings."""
        return {
            "name": self.name,
            "depth": self.depth,
            "a": [fmt(x) for x in self.a],
            "b": [fmt(x) for x in self.b],
            "c": fmt(self.c),
        }

    def __str__(self) -> str:
        label = f"{self.name}: " if self.name else ""
        a = ", ".join(fmt(x) for x in self.a)
        b = ", ".join(fmt(x) for x in self.b)
        return f"{label}a = ({a}), b = ({b}), c = {fmt(self.c)}"


def canonical(p: ABCParametrization) -> ABCParametrization:
    """The representative of p's Eq. (5) orbit with c = 0 (θ = c/2)."""
    return p.shifted(p.c / 2)


def symmetry_theta(p: ABCParametrization, q: ABCParametrization) -> sp.Rational | None:
    """The θ with q = p.shifted(θ) (TP4 Eq. (5)), or None if p and q are not equivalent."""
    if p.depth != q.depth:
        return None
    theta = (p.c - q.c) / 2
    return theta if p.shifted(theta) == q else None


def equivalent(p: ABCParametrization, q: ABCParametrization) -> bool:
    """True iff p and q differ by the symmetry of TP4 Eq. (5) (identical f_t for all t, ξ)."""
    return symmetry_theta(p, q) is not None
