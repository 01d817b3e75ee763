"""Tests of the abc-parametrization classifier.

Expected values are transcribed from the papers (TP4 = Yang & Hu, "Tensor Programs IV: Feature
Learning in Infinite-Width Neural Networks", arXiv:2011.14522; Chen et al. = Chen, Yang, Zhao &
Gu, "Global Convergence and Rich Feature Learning in L-Layer Infinite-Width Neural Networks under
μP Parametrization", arXiv:2503.09565) or derived by hand in the comments next to them; none is
produced by the code under test.
"""

from __future__ import annotations

import itertools
import warnings
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tensorprog.errors import ParametrizationError, TensorProgError
from tensorprog.parametrization import (
    ABCParametrization,
    InexactInputWarning,
    canonical,
    classify,
    equivalent,
    min_stable_c,
    preset,
    r_exponent,
    r_layers,
    symmetry_theta,
    to_rational,
)
from tensorprog.parametrization.classify import DEGENERATE, FEATURE_LEARNING, KERNEL, TRIVIAL

H = Fraction(1, 2)

# ---------------------------------------------------------------------------------------------
# TP4 Table 1 (§3, the table after footnote 14), transcribed. Piecewise
# entries are written as functions of (l, L) exactly as the table's cases read. Blank cells of
# the "Feature Learning?" / "Kernel Regime?" rows are False.
# ---------------------------------------------------------------------------------------------
TABLE1 = {
    "sp_lr_1/n": dict(
        a=lambda l, L: 0,
        b=lambda l, L: 0 if l == 1 else H,
        c=1, r=H, upd=1, ini=1, nontrivial=True, stable=True, fl=False, kernel=True,
    ),
    "ntp": dict(
        a=lambda l, L: 0 if l == 1 else H,
        b=lambda l, L: 0,
        c=0, r=H, upd=1, ini=1, nontrivial=True, stable=True, fl=False, kernel=True,
    ),
    "mfp": dict(  # L = 1 only
        a=lambda l, L: 0 if l == 1 else 1,
        b=lambda l, L: 0,
        c=-1, r=0, upd=1, ini=1, nontrivial=True, stable=True, fl=True, kernel=False,
    ),
    "mup": dict(
        a=lambda l, L: -H if l == 1 else (0 if l <= L else H),
        b=lambda l, L: H,
        c=0, r=0, upd=1, ini=1, nontrivial=True, stable=True, fl=True, kernel=False,
    ),
}  # fmt: skip

# Depths at which each column is checked. MFP is an L = 1 column. The SP column's r = 1/2 needs
# L >= 2: at L = 1, Definition 3.2 gives r = min(1/2, 0+1) + 1 - 1 + (2*0 + 1) = 3/2 (see
# test_sp_lr_at_depth_one), so the table's SP column describes L >= 2.
TABLE1_DEPTHS = {"sp_lr_1/n": [2, 3, 4, 6], "ntp": [1, 2, 3, 6], "mfp": [1], "mup": [1, 2, 3, 6]}


@pytest.mark.parametrize(
    "name,L", [(n, L) for n, Ls in TABLE1_DEPTHS.items() for L in Ls]
)  # fmt: skip
def test_tp4_table1_columns(name: str, L: int) -> None:
    col = TABLE1[name]
    p = preset(name, L)
    # the a_l, b_l, c rows: the presets are the table's parametrizations
    assert p.a == tuple(sp.Rational(col["a"](l, L)) for l in range(1, L + 2))
    assert p.b == tuple(sp.Rational(col["b"](l, L)) for l in range(1, L + 2))
    assert p.c == col["c"]
    k = classify(p)
    assert k.r == col["r"]
    assert k.last_update_exponent == col["upd"]  # 2a_{L+1} + c
    assert k.last_init_exponent == col["ini"]  # a_{L+1} + b_{L+1} + r
    assert k.nontrivial is col["nontrivial"]
    assert k.stable is col["stable"]
    assert k.violations == ()
    assert k.feature_learning is col["fl"]
    assert k.kernel_regime is col["kernel"]
    # Table 1 caption: "We show the minimal value of c such that the parametrization is stable".
    assert min_stable_c(p) == col["c"]
    assert min_stable_c(p.with_c(17)) == col["c"]  # the threshold depends on a, b only


def test_sp_lr_at_depth_one() -> None:
    # Hand derivation (Def. 3.2) for SP with c = 1, L = 1: min(a_2+b_2, 2a_2+c) = min(1/2, 1) = 1/2;
    # + c - 1 = 0; + min_l [2a_l + I(l=1)] = 1  =>  r = 3/2; a_2+b_2+r = 2; 2a_2+c = 1.
    k = classify(preset("sp_lr_1/n", 1))
    assert (k.r, k.last_init_exponent, k.last_update_exponent) == (Fraction(3, 2), 2, 1)
    assert k.stable and k.nontrivial and k.kernel_regime and not k.feature_learning
    assert k.updated_maximally == (False, True) and k.initialized_maximally is False
    assert k.min_stable_c == 1  # TP4 Thm 4.1 / Table 1: SP allows LR O(1/n) only


# ---------------------------------------------------------------------------------------------
# Presets against the papers' definitions
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("L", [1, 2, 3, 5])
def test_presets_match_paper_definitions(L: int) -> None:
    # TP4 Eq. (SP) and §1: a_l = 0; b_1 = 0, b_l = 1/2 for l >= 2; c = 0.
    assert preset("sp", L) == ABCParametrization([0] * (L + 1), [0] + [H] * L, 0)
    # TP4 Definition 5.1 (μP).
    assert preset("mup", L) == ABCParametrization([-H] + [0] * (L - 1) + [H], [H] * (L + 1), 0)
    # TP4 §1: NTP a_1 = 0, a_l = 1/2 (l >= 2), b_l = 0, c = 0.
    assert preset("ntp", L) == ABCParametrization([0] + [H] * L, [0] * (L + 1), 0)


# Chen et al. Table 2 ("Init. Var." and "LR" per layer), as exponents of n:
# Var W = n^v, LR = η n^γ, rows (Input W^1, Hidden W^l, Output W^{L+1}).
CHEN_TABLE2 = {
    "sp_lr_1/n": {"var": (0, -1, -1), "lr": (-1, -1, -1)},  # Chen et al.'s "SP" column
    "ntp": {"var": (0, -1, -1), "lr": (0, -1, -1)},
    "ip": {"var": (0, -2, -2), "lr": (1, 0, -1)},
    "mup": {"var": (0, -1, -2), "lr": (1, 0, -1)},
}


@pytest.mark.parametrize("name", list(CHEN_TABLE2))
@pytest.mark.parametrize("L", [1, 2, 3, 4])
def test_presets_match_chen_table2(name: str, L: int) -> None:
    row = CHEN_TABLE2[name]
    expand = lambda t: (t[0],) + (t[1],) * (L - 1) + (t[2],)  # noqa: E731
    var, lr = preset(name, L).effective()
    assert var == tuple(sp.Integer(x) for x in expand(row["var"]))
    assert lr == tuple(sp.Integer(x) for x in expand(row["lr"]))


def test_ip_preset_abc_by_hand() -> None:
    # From Chen et al. Table 2 with c = 0: 2a_l = -γ_l and a_l + b_l = -v_l/2.
    # γ = (1, 0, 0, -1), v = (0, -2, -2, -2)  =>  a = (-1/2, 0, 0, 1/2), b = (1/2, 1, 1, 1/2).
    assert preset("ip", 3) == ABCParametrization([-H, 0, 0, H], [H, 1, 1, H], 0)


def test_mfp_only_at_depth_one() -> None:
    with pytest.raises(ParametrizationError) as e:
        preset("mfp", 2)
    assert "L = 1" in e.value.message and e.value.hint and "mup" in e.value.hint


def test_preset_errors() -> None:
    with pytest.raises(ParametrizationError) as e:
        preset("mpu", 2)
    assert "unknown preset" in e.value.message and "mup" in e.value.hint
    for bad in (0, -1, True, 2.0):
        with pytest.raises(ParametrizationError):
            preset("sp", bad)  # type: ignore[arg-type]
    assert preset("μP", 2) == preset("mup", 2)  # alias
    assert isinstance(e.value, TensorProgError)


# ---------------------------------------------------------------------------------------------
# Properties of the presets stated in the papers
# ---------------------------------------------------------------------------------------------
def test_mfp_equals_mup_up_to_symmetry() -> None:
    # TP4 §3.1: MFP (a_u = 0, a_v = 1, b = 0, c = -1) is equivalent with θ = -1/2 to
    # a_u = -1/2, a_v = b_u = b_v = 1/2, c = 0, which is μP at L = 1 (Def. 5.1 remark).
    mfp, mup = preset("mfp", 1), preset("mup", 1)
    assert symmetry_theta(mfp, mup) == -H
    assert equivalent(mfp, mup) and canonical(mfp) == mup
    assert classify(mfp).invariant_view() == classify(mup).invariant_view()
    assert "mup" in classify(mfp).equivalent_presets
    # IP at L = 1 (Chen et al. Table 2) is the same parametrization as μP at L = 1.
    assert preset("ip", 1) == mup


def test_ntp_kernel_regime() -> None:
    # TP4 §3.2 after Thm 3.8: "NTP is a typical example of this, where r = 1/2".
    # By hand (Prop. 5.3): r_1 = min(1/2, 1) + 0 - 1 + 0 + 1 = 1/2, r_l = 1/2 - 1 + 1 = 1/2.
    for L in (1, 2, 4):
        k = classify(preset("ntp", L))
        assert k.regime == KERNEL and k.r == H
        assert k.r_layers == (H,) * L
        assert k.feature_layers == ()  # NTK: features do not move (TP4 §3.1.1)
        assert k.updated_maximally == (False,) * L + (True,)
        assert k.initialized_maximally is True
        assert k.logits_vanish_at_init is False  # f_0 is a nondegenerate GP


def test_mup_maximal_everything() -> None:
    # TP4 Thm 5.6: in μP every W^l (l ∈ [L+1]) is updated maximally and W^{L+1} is initialized
    # maximally; "r_l = 0 for all l" (after Prop. 5.3); Cor. 3.10: f_0 -> 0.
    for L in (1, 2, 3, 7):
        k = classify(preset("mup", L))
        assert k.regime == FEATURE_LEARNING and k.r == 0
        assert k.r_layers == (0,) * L
        assert k.updated_maximally == (True,) * (L + 1) and k.initialized_maximally
        assert k.feature_layers == tuple(range(1, L + 1))
        assert k.logits_vanish_at_init


def test_chen_table1_feature_learning_column() -> None:
    # Chen et al. Table 1: Feature Learning  SP ✗, NTP ✗, μP ✓ (their SP is sp_lr_1/n, see
    # Table 2); their experiments use three hidden layers (App. A).
    assert classify(preset("sp_lr_1/n", 3)).feature_learning is False
    assert classify(preset("ntp", 3)).feature_learning is False
    assert classify(preset("mup", 3)).feature_learning is True
    # Chen et al. Table 1 marks IP ✓ from experiments; TP4's theorems do not cover IP at L >= 2
    # because IP violates Eq. (6) (hidden preactivations vanish at initialization), so we say
    # nothing.
    k = classify(preset("ip", 3))
    assert k.feature_learning is None and k.regime == DEGENERATE


@pytest.mark.parametrize("L", [2, 3, 5])
def test_sp_learning_rate_scan(L: int) -> None:
    # SP with learning rate n^{-c}, L >= 2, by hand from Def. 3.2 / Prop. 5.3 / Thm 3.3:
    #   r_1 = min(1/2, c) + c - 1 + 1,  r_l = min(1/2, c) + c - 1 (l >= 2),  r = r_2,
    #   2a_{L+1} + c = c,  a_{L+1} + b_{L+1} + r = 1/2 + r.
    # So c >= 1 is stable (TP4 Thm 4.1), c = 1 nontrivial (kernel, r = 1/2), c > 1 trivial.
    sp0 = preset("sp", L)
    for c in [Fraction(-1), Fraction(0), Fraction(1, 4), Fraction(1, 2), Fraction(3, 4),
              Fraction(1), Fraction(5, 4), Fraction(3)]:  # fmt: skip
        k = classify(sp0.with_c(c))
        m = min(H, c)
        r_rest = m + c - 1
        expected = []
        if m + c < 0:  # r_1 < 0
            expected.append(("Thm 3.3 Eq. (7)", 1, m + c))
        if r_rest < 0:
            expected += [("Thm 3.3 Eq. (7)", l, r_rest) for l in range(2, L + 1)]
        if c < 1:
            expected.append(("Thm 3.3 Eq. (8)", L + 1, c))
        if H + r_rest < 1:
            expected.append(("Thm 3.3 Eq. (8)", L + 1, H + r_rest))
        assert [(v.rule, v.layer, v.value) for v in k.violations] == expected, c
        assert k.r == r_rest
        assert k.stable is (c >= 1)
        if c == 1:
            assert k.nontrivial and k.regime == KERNEL and k.r == H
        elif c > 1:
            assert k.nontrivial is False and k.regime == TRIVIAL
        assert k.min_stable_c == 1 and k.nontrivial_c == 1


# ---------------------------------------------------------------------------------------------
# Worked examples from TP4's text
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("theta", [0, 1, Fraction(7, 3), 100])
def test_tp4_section4_only_middle_layer_trained(theta) -> None:
    # TP4 §4: a_1 = θ, b_1 = -θ, a_2 = 0, b_2 = 1/2, a_3 = θ, b_3 = -θ + 1/2 (θ -> ∞), c = 1:
    # "stable and nontrivial ... r = 1/2 > 0 ... kernel regime".
    p = ABCParametrization([theta, 0, theta], [-theta, H, -theta + H], 1)
    k = classify(p)
    assert k.stable and k.nontrivial and k.r == H and k.regime == KERNEL


@pytest.mark.parametrize("L", [2, 3, 5])
def test_tp4_section5_logits_divided_by_sqrt_n(L: int) -> None:
    # TP4 §5.1: a_{L+1} = 1/2, c = 0 on top of Eq. (SP) "implies r = 0 and thus admits feature
    # learning"; §5.2: the first layer then stays effectively fixed (changes by O(1/n)).
    # (§5.1's example is a 2-hidden-layer net; at L = 1 see the next test.)
    p = ABCParametrization([0] * L + [H], [0] + [H] * L, 0)
    k = classify(p)
    assert k.stable and k.nontrivial and k.r == 0 and k.feature_learning
    # r_1 = min(1, 1) + 0 - 1 + 0 + 1 = 1 (hand): layer 1 moves by Θ(n^{-1}).
    assert k.r_layers[0] == 1 and k.updated_maximally[0] is False
    assert k.feature_layers == tuple(range(2, L + 1))
    # §5.2's fix a_1 = -1/2, b_1 = 1/2 gives μP.
    assert classify(ABCParametrization([-H] + list(p.a[1:]), [H] + list(p.b[1:]), 0)) \
        .updated_maximally == (True,) * (L + 1)  # fmt: skip


def test_tp4_section5_at_depth_one_is_kernel() -> None:
    # With no middle layer, §5.1's change alone does not give feature learning. By hand:
    # r = min(1, 1) + 0 - 1 + (0 + 1) = 1 > 0; 2a_2 + c = 1 (nontrivial): kernel regime. §5.2's
    # first-layer fix (a_1 = -1/2, b_1 = 1/2) is what makes L = 1 learn features (it is μP).
    k = classify(ABCParametrization([0, H], [0, H], 0))
    assert k.r == 1 and k.stable and k.nontrivial and k.regime == KERNEL


def test_tp4_footnote22_trivial_but_feature_learning() -> None:
    # TP4 footnote 22: b_l = 1/2, a_1 = -1/2, a_2 = 100 + 1/2, c = -100 "performs feature
    # learning in a trivial parametrization" (two weight layers, so read at L = 1). By hand:
    # r = min(101, 201 - 100) - 100 - 1 + 0 = 0; 2a_2 + c = 101; a_2 + b_2 + r = 101.
    k = classify(ABCParametrization([-H, 100 + H], [H, H], -100))
    assert k.stable and k.nontrivial is False and k.regime == TRIVIAL
    assert k.r == 0 and k.feature_learning is True and k.kernel_regime is None


def test_tp4_footnote23_last_layer_update_negligible() -> None:
    # TP4 footnote 23: a_{L+1} = 100 + 1/2, b_{L+1} = -100 + 1/2 (μP otherwise): ΔW^{L+1} is
    # negligible, but W^{L+1}_0 still carries the features (initialized maximally).
    L = 3
    p = ABCParametrization([-H, 0, 0, 100 + H], [H, H, H, -100 + H], 0)
    k = classify(p)
    assert k.updated_maximally == (True, True, True, False) and k.initialized_maximally
    assert k.stable and k.nontrivial and k.regime == FEATURE_LEARNING and k.depth == L


# ---------------------------------------------------------------------------------------------
# Every violated Theorem 3.3 inequality, for hand-picked parametrizations
# ---------------------------------------------------------------------------------------------
CASES = {
    # a = b = c = 0, L = 2 (no scaling at all). By hand: a_2+b_2 = 0 < 1/2 (blow-up),
    # a_3+b_3 = 0 < 1/2; r_1 = min(0, 0) + 0 - 1 + 1 = 0, r_2 = -1; r = -1; 2a_3+c = 0;
    # a_3+b_3+r = -1.
    "no scaling": (
        ABCParametrization([0, 0, 0], [0, 0, 0], 0),
        [("Thm 3.3 Eq. (6)", 2, 0, "blow-up"), ("Thm 3.3 Eq. (6)", 3, 0, "blow-up"),
         ("Thm 3.3 Eq. (7)", 2, -1, "blow-up"), ("Thm 3.3 Eq. (8)", 3, 0, "blow-up"),
         ("Thm 3.3 Eq. (8)", 3, -1, "blow-up")],
    ),
    # SP (c = 0), L = 3: r_1 = min(1/2, 0) - 1 + 1 = 0, r_2 = r_3 = -1; 2a_4 + c = 0;
    # a_4 + b_4 + r = 1/2 - 1 = -1/2.
    "sp L=3": (
        preset("sp", 3),
        [("Thm 3.3 Eq. (7)", 2, -1, "blow-up"), ("Thm 3.3 Eq. (7)", 3, -1, "blow-up"),
         ("Thm 3.3 Eq. (8)", 4, 0, "blow-up"), ("Thm 3.3 Eq. (8)", 4, -H, "blow-up")],
    ),
    # SP (c = 0), L = 1: r = min(1/2, 0) + 0 - 1 + (0 + 1) = 0, so Eq. (7) holds; 2a_2 + c = 0
    # and a_2 + b_2 + r = 1/2: both logit conditions fail.
    "sp L=1": (
        preset("sp", 1),
        [("Thm 3.3 Eq. (8)", 2, 0, "blow-up"), ("Thm 3.3 Eq. (8)", 2, H, "blow-up")],
    ),
    # IP, L = 3: a_l + b_l = 1 for l = 2, 3 (vanishing); r = min(1, 1) - 1 + 0 = 0; rest holds.
    "ip L=3": (
        preset("ip", 3),
        [("Thm 3.3 Eq. (6)", 2, 1, "vanishing"), ("Thm 3.3 Eq. (6)", 3, 1, "vanishing")],
    ),
    # SP with LR 1/n but b_1 = 1: a_1 + b_1 = 1 (h^1 vanishes); r = 1/2 as for SP: all else ok.
    "first layer vanishing": (
        ABCParametrization([0, 0, 0], [1, H, H], 1),
        [("Thm 3.3 Eq. (6)", 1, 1, "vanishing")],
    ),
    # μP (L = 2) with b_3 = -1/2: a_3 + b_3 = 0 < 1/2; r = min(0, 1) + 0 - 1 + 0 = -1,
    # r_1 = -1 - 1 + 1 = -1, r_2 = -1; 2a_3 + c = 1 holds; a_3 + b_3 + r = -1.
    "mup big logits": (
        ABCParametrization([-H, 0, H], [H, H, -H], 0),
        [("Thm 3.3 Eq. (6)", 3, 0, "blow-up"), ("Thm 3.3 Eq. (7)", 1, -1, "blow-up"),
         ("Thm 3.3 Eq. (7)", 2, -1, "blow-up"), ("Thm 3.3 Eq. (8)", 3, -1, "blow-up")],
    ),
    # NTP with learning rate n (c = -1), L = 2: r_l = min(1/2, 0) - 1 - 1 + 1 = -1 for both;
    # 2a_3 + c = 0; a_3 + b_3 + r = 1/2 - 1 = -1/2.
    "ntp lr n": (
        preset("ntp", 2).with_c(-1),
        [("Thm 3.3 Eq. (7)", 1, -1, "blow-up"), ("Thm 3.3 Eq. (7)", 2, -1, "blow-up"),
         ("Thm 3.3 Eq. (8)", 3, 0, "blow-up"), ("Thm 3.3 Eq. (8)", 3, -H, "blow-up")],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_every_violation_reported(case: str) -> None:
    p, expected = CASES[case]
    k = classify(p)
    assert [(v.rule, v.layer, v.value, v.kind) for v in k.violations] == expected
    assert k.stable is False
    assert k.nontrivial is None and k.feature_learning is None and k.kernel_regime is None
    for v in k.violations:
        text = str(v)
        assert v.rule in text and f"layer {v.layer}" in text and v.formula in text


def test_violation_formulas_are_the_papers() -> None:
    k = classify(CASES["no scaling"][0])
    assert [v.formula for v in k.violations] == [
        "a_2 + b_2 = 1/2", "a_3 + b_3 >= 1/2", "r >= 0 (r_2 >= 0, Prop. 5.3)",
        "2a_3 + c >= 1", "a_3 + b_3 + r >= 1",
    ]  # fmt: skip
    assert classify(CASES["ip L=3"][0]).regime == DEGENERATE
    assert classify(CASES["ip L=3"][0]).min_stable_c is None  # Eq. (6) does not involve c


# ---------------------------------------------------------------------------------------------
# Property tests (hypothesis)
# ---------------------------------------------------------------------------------------------
rat = st.fractions(min_value=-3, max_value=3, max_denominator=6)


@st.composite
def abc(draw, stable_init: bool = False, at_threshold: bool = False) -> ABCParametrization:
    """Random abc-parametrizations; ``stable_init`` satisfies Eq. (6) so that c decides
    stability, and ``at_threshold`` then often puts c at the least stable value (the only place
    nontrivial ones live), so the stable / nontrivial branches of the properties get exercised."""
    L = draw(st.integers(1, 4))
    a = draw(st.lists(rat, min_size=L + 1, max_size=L + 1))
    if stable_init:
        b = [-a[0]] + [H - x for x in a[1:L]] + [H - a[L] + draw(st.sampled_from([0, 0, H, 1]))]
    else:
        b = draw(st.lists(rat, min_size=L + 1, max_size=L + 1))
    p = ABCParametrization(a, b, draw(rat))
    if at_threshold and draw(st.booleans()):
        p = p.with_c(min_stable_c(p))
    return p


mixed = st.one_of(abc(), abc(stable_init=True), abc(stable_init=True, at_threshold=True))


@settings(max_examples=150, deadline=None)
@given(mixed, rat)
def test_symmetry_eq5_leaves_classification_unchanged(p: ABCParametrization, theta) -> None:
    # TP4 Eq. (5): a_l + θ, b_l - θ, c - 2θ gives the same f_t, so the same classification.
    q = p.shifted(theta)
    kp, kq = classify(p), classify(q)
    assert kq.invariant_view() == kp.invariant_view()
    assert equivalent(p, q) and symmetry_theta(p, q) == theta
    assert canonical(q) == canonical(p) and canonical(p).c == 0
    # The learning-rate threshold is a property of (a, b), so it moves with c: c_min - 2θ.
    if kp.min_stable_c is None:
        assert kq.min_stable_c is None
    else:
        assert kq.min_stable_c == kp.min_stable_c - 2 * sp.Rational(theta)


@settings(max_examples=100, deadline=None)
@given(abc(), st.integers(0, 4), st.fractions(min_value=-2, max_value=2, max_denominator=5))
def test_only_eq5_moves_are_equivalences(p, layer, delta) -> None:
    assume(delta != 0)
    layer = layer % (p.depth + 1)
    b = list(p.b)
    b[layer] += delta  # changes a_l + b_l: a different f at initialization
    assert not equivalent(p, ABCParametrization(p.a, b, p.c))
    assert not equivalent(p, p.with_c(p.c + delta))  # a genuinely different learning rate


@settings(max_examples=300, deadline=None)
@given(mixed)
def test_structure_of_the_classification(p: ABCParametrization) -> None:
    k = classify(p)
    # Remark after Prop. 5.3: r (Def. 3.2, computed separately) is the minimum of the r_l.
    assert r_exponent(p) == min(r_layers(p))
    # Theorem 3.3: stable iff no inequality is violated; Eq. (7) then gives r >= 0.
    assert k.stable is (not k.violations)
    if k.stable:
        assert k.r >= 0
        # Feature learning at layer l implies it at l..L (TP4 §3.2 on Thm H.13).
        fl = k.feature_layers
        assert fl == tuple(range(fl[0], p.depth + 1)) if fl else True
        assert k.feature_learning is (p.depth in fl)
    if k.stable and k.nontrivial:
        # Corollary 3.9 (Dynamical Dichotomy): exactly one of feature learning / kernel regime.
        assert k.feature_learning != k.kernel_regime
        # Corollary 3.10: feature learning forces f_0 -> 0.
        if k.feature_learning:
            assert k.logits_vanish_at_init
        # For fixed a, b the stable set is c >= c_min and both Eq. (8) quantities grow with c,
        # so a nontrivial stable c is the threshold itself.
        assert p.c == k.min_stable_c == k.nontrivial_c


@settings(max_examples=150, deadline=None)
@given(abc(stable_init=True), st.fractions(min_value=0, max_value=2, max_denominator=7))
def test_min_stable_c_is_the_threshold(p: ABCParametrization, eps) -> None:
    # Closed form (min_stable_c) against the direct Theorem 3.3 check (classify).
    c0 = min_stable_c(p)
    assert c0 is not None
    assert classify(p.with_c(c0)).stable
    assert classify(p.with_c(c0 + eps)).stable
    if eps > 0:
        assert not classify(p.with_c(c0 - eps)).stable
        assert classify(p.with_c(c0 + eps)).nontrivial is False  # trivial above threshold


@settings(max_examples=100, deadline=None)
@given(abc())
def test_layerwise_form_round_trip(p: ABCParametrization) -> None:
    var, lr = p.effective()
    assert ABCParametrization.from_layerwise(var, lr) == canonical(p)
    assert canonical(p).effective() == (var, lr)  # Eq. (5) keeps Var W and the LR of W


@pytest.mark.parametrize("L", [1, 2])
def test_theorem_5_6_uniqueness_on_a_grid(L: int) -> None:
    # TP4 Theorem 5.6: μP is the unique stable abc-parametrization (up to Eq. (5)) in which every
    # W^l is updated maximally and W^{L+1} is initialized maximally. Checked on a grid where
    # Eq. (6) fixes b_1..b_L from a_1..a_L.
    vals = [Fraction(x, 2) for x in range(-2, 3)]
    mup = preset("mup", L)
    found = 0
    for *a, b_last, c in itertools.product(vals, repeat=L + 3):
        b = [-a[0]] + [H - x for x in a[1:L]] + [b_last]
        k = classify(ABCParametrization(a, b, c))
        maximal = k.stable and all(k.updated_maximally) and k.initialized_maximally
        assert maximal is equivalent(k.parametrization, mup)
        found += maximal
    assert found == 3  # μP's orbit meets the grid at θ = -1/2, 0, 1/2 (c = -2θ)


# ---------------------------------------------------------------------------------------------
# Exact input handling
# ---------------------------------------------------------------------------------------------
def test_exponents_are_exact_sympy_rationals() -> None:
    with pytest.warns(InexactInputWarning, match="b\\[0\\]: float 0.5 converted exactly to"):
        p = ABCParametrization(["-1/2", Fraction(0), sp.Rational(1, 2)], [0.5, "0.5", 1], "0")
    for x in p.a + p.b + (p.c,):
        assert isinstance(x, sp.Rational)
    assert p.a == (-H, 0, H) and p.b == (H, H, 1)
    k = classify(p)
    assert isinstance(k.r, sp.Rational)


def test_floats_converted_exactly_with_warning_or_refused() -> None:
    with pytest.warns(InexactInputWarning, match="1/4"):
        assert to_rational(0.25) == Fraction(1, 4)
    with pytest.warns(InexactInputWarning):
        assert to_rational(np.float64(-1.5)) == Fraction(-3, 2)
    with pytest.raises(ParametrizationError) as e:
        to_rational(0.1, "a[0]")
    assert "a[0]" in e.value.message and "1/10" in e.value.hint
    for bad in (float("nan"), float("inf"), sp.sqrt(2), sp.Float(0.1), True, None, [1]):
        with pytest.raises(ParametrizationError):
            to_rational(bad)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exact inputs never warn
        assert to_rational(np.int64(3)) == 3 and to_rational(sp.Integer(-2)) == -2


def test_text_is_parsed_not_evaluated() -> None:
    for bad in ("__import__('os')", "1/2 + 1", "sqrt(2)", "1e3", "", "1/0", "--1"):
        with pytest.raises(ParametrizationError):
            to_rational(bad)
    assert to_rational(" -3/6 ") == -H and to_rational("+.5") == H


def test_constructor_errors() -> None:
    with pytest.raises(ParametrizationError, match="a has 3 exponents but b has 2"):
        ABCParametrization([0, 0, 0], [0, 0], 0)
    with pytest.raises(ParametrizationError, match="L\\+1 >= 2"):
        ABCParametrization([0], [0], 0)
    with pytest.raises(ParametrizationError):
        ABCParametrization(5, [0, 0], 0)  # type: ignore[arg-type]
    with pytest.raises(ParametrizationError):
        preset("mup", 2).a_(4)


def test_to_dict_is_exact_text() -> None:
    d = classify(preset("sp", 2)).to_dict()
    assert d["r"] == "-1" and d["stable"] is False and d["nontrivial"] is None
    assert d["parametrization"]["b"] == ["0", "1/2", "1/2"]
    assert [v["layer"] for v in d["violations"]] == [2, 3, 3]
