"""Named abc-parametrizations from the papers.

* ``sp``        standard parametrization, TP4 Eq. (SP) / §1: a_l = 0; b_1 = 0, b_l = 1/2 (l ≥ 2);
                c = 0.
* ``sp_lr_1/n`` SP with learning rate η/n, TP4 Table 1 column "SP (w/ LR 1/n)": SP with c = 1.
                This is also Chen et al. (arXiv:2503.09565) Table 2's "SP" (all layers LR η n^{-1}).
* ``ntp``       NTK parametrization, TP4 §1 / Table 1: a_1 = 0, a_l = 1/2 (l ≥ 2); b_l = 0; c = 0.
* ``mfp``       mean-field parametrization, L = 1 only, TP4 §1 / Table 1: a = (0, 1), b = (0, 0),
                c = -1.
* ``mup``       maximal update parametrization, TP4 Definition 5.1: a_1 = -1/2, a_l = 0
                (2 ≤ l ≤ L), a_{L+1} = 1/2; b_l = 1/2; c = 0.
* ``ip``        integrable parametrization, Chen et al. (arXiv:2503.09565) Table 2 (and
                its App. A): Var W^1 = 1,
                Var W^l = n^{-2} (l ≥ 2); LR η n (layer 1), η (hidden), η n^{-1} (output). Written
                in abc form with c = 0 via ``ABCParametrization.from_layerwise``:
                a = (-1/2, 0, ..., 0, 1/2), b = (1/2, 1, ..., 1, 1/2).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import sympy as sp

from ..errors import ParametrizationError
from .abcparam import ABCParametrization

HALF = sp.Rational(1, 2)


def _sp(L: int, c: int = 0, name: str = "sp") -> ABCParametrization:
    return ABCParametrization([0] * (L + 1), [0] + [HALF] * L, c, name=name)


def _sp_lr(L: int) -> ABCParametrization:
    return _sp(L, c=1, name="sp_lr_1/n")


def _ntp(L: int) -> ABCParametrization:
    return ABCParametrization([0] + [HALF] * L, [0] * (L + 1), 0, name="ntp")


def _mfp(L: int) -> ABCParametrization:
    if L != 1:
        raise ParametrizationError(
            f"the mean-field parametrization (MFP) is defined for L = 1 hidden layer only, "
            f"got depth {L}",
            hint="use --depth 1, or 'mup' (TP4 Def. 5.1), which equals MFP at L = 1 up to the "
            "symmetry of Eq. (5) and generalizes it to any depth",
        )
    return ABCParametrization([0, 1], [0, 0], -1, name="mfp")


def _mup(L: int) -> ABCParametrization:
    a = [-HALF] + [0] * (L - 1) + [HALF]
    return ABCParametrization(a, [HALF] * (L + 1), 0, name="mup")


def _ip(L: int) -> ABCParametrization:
    # Chen et al. Table 2 as exponents of n: Var = n^v, LR = η n^γ for (input, hidden..., output).
    v = [0] + [-2] * L
    g = [1] + [0] * (L - 1) + [-1]
    return ABCParametrization.from_layerwise(v, g, name="ip")


PRESETS: dict[str, Callable[[int], ABCParametrization]] = {
    "sp": _sp,
    "sp_lr_1/n": _sp_lr,
    "ntp": _ntp,
    "mfp": _mfp,
    "mup": _mup,
    "ip": _ip,
}

_ALIASES = {
    "standard": "sp",
    "sp-lr-1/n": "sp_lr_1/n",
    "sp_lr_1n": "sp_lr_1/n",
    "sp_lr": "sp_lr_1/n",
    "ntk": "ntp",
    "mf": "mfp",
    "meanfield": "mfp",
    "mean_field": "mfp",
    "μp": "mup",
    "mu_p": "mup",
    "maximal_update": "mup",
    "integrable": "ip",
}


def preset_names() -> list[str]:
    """The canonical preset names."""
    return list(PRESETS)


def preset(name: str, depth: int) -> ABCParametrization:
    """The named abc-parametrization for an MLP with ``depth`` = L hidden layers."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ParametrizationError(
            f"depth must be a positive integer number of hidden layers, got {depth!r}",
            hint="e.g. depth=1 for a 1-hidden-layer MLP",
        )
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in PRESETS:
        close = difflib.get_close_matches(key, list(PRESETS) + list(_ALIASES), n=1)
        did = f"did you mean '{_ALIASES.get(close[0], close[0])}'? " if close else ""
        raise ParametrizationError(
            f"unknown preset {name!r}",
            hint=f"{did}known presets: {', '.join(PRESETS)}",
        )
    return PRESETS[key](depth)
