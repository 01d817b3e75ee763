"""Classification of abc-parametrizations (TP4 §3.2 and §5.3), in exact rational arithmetic.

Rules applied, with their names in the paper (Yang & Hu, "Feature Learning in Infinite-Width
Neural Networks", arXiv:2011.14522):

* Definition 3.2 -- r = min(a_{L+1}+b_{L+1}, 2a_{L+1}+c) + c − 1 + min_{l=1..L}[2a_l + 𝕀(l=1)].
* Proposition 5.3 -- r_l = min(a_{L+1}+b_{L+1}, 2a_{L+1}+c) + c − 1 + 2a_l + 𝕀(l=1), l ∈ [L];
  W^l is updated maximally iff r_l = 0 (r = min_l r_l).
* Theorem 3.3 -- stable iff Eq. (6) a_1+b_1 = 0, a_l+b_l = 1/2 (l ∈ [2, L]),
  a_{L+1}+b_{L+1} ≥ 1/2; Eq. (7) r ≥ 0; Eq. (8) 2a_{L+1}+c ≥ 1, a_{L+1}+b_{L+1}+r ≥ 1.
* Theorem 3.4 -- a stable parametrization is nontrivial iff a_{L+1}+b_{L+1}+r = 1 or
  2a_{L+1}+c = 1.
* Theorems 3.6 / 3.8 -- nontrivial + stable: feature learning iff r = 0, kernel regime iff r > 0.
* Proposition 5.5 -- W^{L+1} is updated maximally iff 2a_{L+1}+c = 1 and initialized maximally
  iff a_{L+1}+b_{L+1}+r = 1.
* Which layers' features move: Δx^l receives ΔW^m x^{m-1} = Θ(n^{-r_m}) for every m ≤ l (the
  heuristic of TP4 §5.3), carried forward at the same size by the Θ(1)-preserving W_0 of a
  stable parametrization, so Δx^l = Θ(n^{-min_{m≤l} r_m}); this is the statement "feature
  learning in layer l implies the same for layers l, ..., L" that TP4 §3.2 quotes from its
  Theorem H.13, and for l = L it is Definition 3.2's "Δx^L_t = Θ(n^{-r})".
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import sympy as sp

from .abcparam import ABCParametrization, canonical, equivalent
from .exact import fmt
from .presets import PRESETS

HALF = sp.Rational(1, 2)

# Regimes, in the order the table explains them.
UNSTABLE = "unstable"
DEGENERATE = "degenerate init"
TRIVIAL = "trivial"
FEATURE_LEARNING = "feature learning"
KERNEL = "kernel"


def _theta(exponent: sp.Rational) -> str:
    """Θ(n^e) as text."""
    if exponent == 0:
        return "Θ(1)"
    if exponent == 1:
        return "Θ(n)"
    return f"Θ(n^{{{fmt(exponent)}}})"


@dataclass(frozen=True)
class Violation:
    """One violated inequality of TP4 Theorem 3.3 (stability), at one layer.

    ``rule`` names the equation, ``formula`` is its instance at ``layer`` (1-based), ``value`` the
    left-hand side's exact value, ``kind`` is "blow-up" (something grows with n) or "vanishing"
    (a preactivation at initialization tends to 0, which Eq. (6) also excludes), and ``effect``
    the size the heuristic of TP4 §3.2 assigns to the offending quantity.
    """

    rule: str
    formula: str
    layer: int
    value: sp.Rational
    kind: str
    effect: str

    def __str__(self) -> str:
        return (
            f"{self.rule} at layer {self.layer}: {self.formula} fails "
            f"(value {fmt(self.value)}); {self.effect} [{self.kind}]"
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-able form."""
        return {
            "rule": self.rule,
            "formula": self.formula,
            "layer": self.layer,
            "value": fmt(self.value),
            "kind": self.kind,
            "effect": self.effect,
        }


@dataclass(frozen=True)
class Classification:
    """Everything TP4 §3.2/§5.3 says about one abc-parametrization (see module docstring).

    Fields that the theorems state only for stable parametrizations are None when the
    parametrization is not stable; ``kernel_regime`` is also None for stable trivial ones
    (Thm 3.8 is about nontrivial parametrizations; a trivial one keeps f_t = f_0).
    Per-layer tuples are indexed from layer 1 (index 0).
    """

    parametrization: ABCParametrization
    depth: int
    r: sp.Rational
    r_layers: tuple[sp.Rational, ...]
    feature_exponents: tuple[sp.Rational, ...]
    last_update_exponent: sp.Rational
    last_init_exponent: sp.Rational
    violations: tuple[Violation, ...]
    stable: bool
    nontrivial: bool | None
    feature_learning: bool | None
    kernel_regime: bool | None
    regime: str
    feature_layers: tuple[int, ...] | None
    updated_maximally: tuple[bool, ...] | None
    initialized_maximally: bool | None
    logits_vanish_at_init: bool
    min_stable_c: sp.Rational | None
    nontrivial_c: sp.Rational | None
    canonical: ABCParametrization
    equivalent_presets: tuple[str, ...]

    def invariant_view(self) -> tuple:
        """The fields the Eq. (5) symmetry must leave unchanged (all but the raw exponents and c
        thresholds, which shift by −2θ)."""
        return (
            self.depth, self.r, self.r_layers, self.feature_exponents,
            self.last_update_exponent, self.last_init_exponent,
            tuple((v.rule, v.formula, v.layer, v.value, v.kind) for v in self.violations),
            self.stable, self.nontrivial, self.feature_learning, self.kernel_regime,
            self.regime, self.feature_layers, self.updated_maximally,
            self.initialized_maximally, self.logits_vanish_at_init, self.canonical,
            self.equivalent_presets,
        )  # fmt: skip

    def to_dict(self) -> dict[str, object]:
        """JSON-able form (rationals as exact ``p/q`` strings)."""

        def opt(q: sp.Rational | None) -> str | None:
            return None if q is None else fmt(q)

        return {
            "parametrization": self.parametrization.to_dict(),
            "depth": self.depth,
            "r": fmt(self.r),
            "r_l": [fmt(x) for x in self.r_layers],
            "feature_exponents": [fmt(x) for x in self.feature_exponents],
            "2a_{L+1}+c": fmt(self.last_update_exponent),
            "a_{L+1}+b_{L+1}+r": fmt(self.last_init_exponent),
            "stable": self.stable,
            "violations": [v.to_dict() for v in self.violations],
            "nontrivial": self.nontrivial,
            "feature_learning": self.feature_learning,
            "kernel_regime": self.kernel_regime,
            "regime": self.regime,
            "feature_layers": None if self.feature_layers is None else list(self.feature_layers),
            "updated_maximally": (
                None if self.updated_maximally is None else list(self.updated_maximally)
            ),
            "initialized_maximally": self.initialized_maximally,
            "logits_vanish_at_init": self.logits_vanish_at_init,
            "min_stable_c": opt(self.min_stable_c),
            "nontrivial_c": opt(self.nontrivial_c),
            "canonical": self.canonical.to_dict(),
            "equivalent_presets": list(self.equivalent_presets),
        }


def _last_min(p: ABCParametrization) -> sp.Rational:
    """min(a_{L+1} + b_{L+1}, 2a_{L+1} + c): the size exponent of dh (TP4 §5.3)."""
    L = p.depth
    return min(p.a_(L + 1) + p.b_(L + 1), 2 * p.a_(L + 1) + p.c)


def r_exponent(p: ABCParametrization) -> sp.Rational:
    """r of TP4 Definition 3.2 (computed directly from the definition, not as min r_l)."""
    L = p.depth
    first = min(2 * p.a_(l) + (1 if l == 1 else 0) for l in range(1, L + 1))
    return _last_min(p) + p.c - 1 + first


def r_layers(p: ABCParametrization) -> tuple[sp.Rational, ...]:
    """r_l of TP4 Proposition 5.3 for l = 1..L (ΔW^l x^{l-1} = Θ(n^{-r_l}) in a stable one)."""
    base = _last_min(p) + p.c - 1
    return tuple(base + 2 * p.a_(l) + (1 if l == 1 else 0) for l in range(1, p.depth + 1))


def stability_violations(p: ABCParametrization) -> tuple[Violation, ...]:
    """Every inequality of TP4 Theorem 3.3 that p violates, by equation and layer."""
    L = p.depth
    out: list[Violation] = []
    # Eq. (6): (pre)activations Θ(1) at initialization, logits O(1).
    s1 = p.a_(1) + p.b_(1)
    if s1 != 0:
        out.append(Violation(
            "Thm 3.3 Eq. (6)", "a_1 + b_1 = 0", 1, s1,
            "blow-up" if s1 < 0 else "vanishing",
            f"h^1_0 = W^1 ξ has {_theta(-s1)} coordinates at initialization",
        ))  # fmt: skip
    for l in range(2, L + 1):
        s = p.a_(l) + p.b_(l)
        if s != HALF:
            out.append(Violation(
                "Thm 3.3 Eq. (6)", f"a_{l} + b_{l} = 1/2", l, s,
                "blow-up" if s < HALF else "vanishing",
                f"h^{l}_0 = W^{l} x^{l - 1}_0 has {_theta(HALF - s)} coordinates at "
                "initialization",
            ))  # fmt: skip
    s_last = p.a_(L + 1) + p.b_(L + 1)
    if s_last < HALF:
        out.append(Violation(
            "Thm 3.3 Eq. (6)", f"a_{L + 1} + b_{L + 1} >= 1/2", L + 1, s_last, "blow-up",
            f"the logit f_0 = W^{L + 1} x^{L}_0 is {_theta(HALF - s_last)} at initialization",
        ))  # fmt: skip
    # Eq. (7): r >= 0, i.e. r_l >= 0 for every l (r = min_l r_l, remark after Prop. 5.3).
    for l, rl in enumerate(r_layers(p), start=1):
        if rl < 0:
            out.append(Violation(
                "Thm 3.3 Eq. (7)", f"r >= 0 (r_{l} >= 0, Prop. 5.3)", l, rl, "blow-up",
                f"the update ΔW^{l} x^{l - 1} is {_theta(-rl)}: features blow up in training",
            ))  # fmt: skip
    # Eq. (8): logits stay O(1) in training.
    upd = 2 * p.a_(L + 1) + p.c
    if upd < 1:
        out.append(Violation(
            "Thm 3.3 Eq. (8)", f"2a_{L + 1} + c >= 1", L + 1, upd, "blow-up",
            f"ΔW^{L + 1}_t x^{L}_t is {_theta(1 - upd)}: the logit blows up in training",
        ))  # fmt: skip
    ini = s_last + r_exponent(p)
    if ini < 1:
        out.append(Violation(
            "Thm 3.3 Eq. (8)", f"a_{L + 1} + b_{L + 1} + r >= 1", L + 1, ini, "blow-up",
            f"W^{L + 1}_0 Δx^{L}_t is {_theta(1 - ini)}: the logit blows up in training",
        ))  # fmt: skip
    return tuple(out)


def min_stable_c(p: ABCParametrization) -> sp.Rational | None:
    """The least c making (p.a, p.b, c) stable (TP4 Table 1's c row), or None if none does.

    With A = a_{L+1}+b_{L+1}, α = 2a_{L+1}, M = min_l [2a_l + 𝕀(l=1)], Def. 3.2 reads
    r(c) = min(A + c, α + 2c) − 1 + M, increasing in c; so each of Eq. (7)-(8) is a lower bound
    on c: r ≥ 0 ⇔ c ≥ 1−M−A and c ≥ (1−M−α)/2; α + c ≥ 1 ⇔ c ≥ 1−α; A + r ≥ 1 ⇔
    c ≥ 2−2A−M and c ≥ (2−A−M−α)/2. Eq. (6) does not involve c: if it fails, no c is stable.
    """
    if any(v.rule.endswith("(6)") for v in stability_violations(p)):
        return None
    L = p.depth
    A = p.a_(L + 1) + p.b_(L + 1)
    alpha = 2 * p.a_(L + 1)
    M = min(2 * p.a_(l) + (1 if l == 1 else 0) for l in range(1, L + 1))
    return max(
        1 - M - A, (1 - M - alpha) / 2, 1 - alpha, 2 - 2 * A - M, (2 - A - M - alpha) / 2
    )


def _equivalent_presets(p: ABCParametrization) -> tuple[str, ...]:
    names = []
    for name, make in PRESETS.items():
        if name == "mfp" and p.depth != 1:
            continue
        if equivalent(p, make(p.depth)):
            names.append(name)
    return tuple(names)


def _core(p: ABCParametrization) -> dict[str, object]:
    """The classification of p without the c-threshold fields (avoids recursion)."""
    L = p.depth
    r = r_exponent(p)
    rl = r_layers(p)
    feat = tuple(itertools.accumulate(rl, min))  # min(r_1..r_l): running, not O(L²)
    upd = 2 * p.a_(L + 1) + p.c
    ini = p.a_(L + 1) + p.b_(L + 1) + r
    violations = stability_violations(p)
    stable = not violations
    if stable:
        nontrivial = ini == 1 or upd == 1  # Thm 3.4
        # Thm 3.6 for nontrivial ones; for trivial ones Def. 3.5 with Δx^L = Θ(n^{-r})
        # (TP4 footnote 22 gives a trivial parametrization that learns features).
        feature_learning = r == 0
        kernel = bool(r > 0) if nontrivial else None  # Thm 3.8
        if not nontrivial:
            regime = TRIVIAL
        else:
            regime = FEATURE_LEARNING if feature_learning else KERNEL
        feature_layers = tuple(l for l in range(1, L + 1) if feat[l - 1] == 0)
        updated = tuple(x == 0 for x in rl) + (upd == 1,)  # Prop. 5.3, Prop. 5.5(1)
        initialized = ini == 1  # Prop. 5.5(2)
    else:
        nontrivial = feature_learning = kernel = None
        feature_layers = updated = initialized = None
        blowup = any(v.kind == "blow-up" for v in violations)
        regime = UNSTABLE if blowup else DEGENERATE
    return dict(
        r=r, r_layers=rl, feature_exponents=feat, last_update_exponent=upd,
        last_init_exponent=ini, violations=violations, stable=stable, nontrivial=nontrivial,
        feature_learning=feature_learning, kernel_regime=kernel, regime=regime,
        feature_layers=feature_layers, updated_maximally=updated,
        initialized_maximally=initialized,
    )  # fmt: skip


def classify(p: ABCParametrization) -> Classification:
    """Classify p by TP4 Theorems 3.3, 3.4, 3.6, 3.8 and Propositions 5.3, 5.5."""
    if not isinstance(p, ABCParametrization):
        raise TypeError(f"classify() needs an ABCParametrization (e.g. tensorprog.preset('mup', "
                        f"depth=2)), got {type(p).__name__}")
    core = _core(p)
    L = p.depth
    c_min = min_stable_c(p)
    nontrivial_c = None
    if c_min is not None and _core(p.with_c(c_min))["nontrivial"]:
        nontrivial_c = c_min
    return Classification(
        p, L, **core,  # type: ignore[arg-type]
        logits_vanish_at_init=bool(p.a_(L + 1) + p.b_(L + 1) > HALF),
        min_stable_c=c_min,
        nontrivial_c=nontrivial_c,
        canonical=canonical(p),
        equivalent_presets=_equivalent_presets(p),
    )  # fmt: skip
