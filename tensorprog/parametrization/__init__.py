"""abc-parametrizations of MLPs and their classification (TP4 §3.2, §5.3; see
docs/parametrizations.md and docs/references.md).

    >>> from tensorprog.parametrization import preset, classify
    >>> k = classify(preset("mup", 3))
    >>> k.stable, k.nontrivial, k.feature_learning, k.r
    (True, True, True, 0)

See docs/parametrizations.md for the quantities and the paper references.
"""

from .abcparam import ABCParametrization, canonical, equivalent, symmetry_theta
from .classify import (
    Classification,
    Violation,
    classify,
    min_stable_c,
    r_exponent,
    r_layers,
    stability_violations,
)
from .exact import InexactInputWarning, parse_rational, parse_rational_list, to_rational
from .presets import PRESETS, preset, preset_names
from .table import format_table

__all__ = [
    "ABCParametrization",
    "Classification",
    "InexactInputWarning",
    "PRESETS",
    "Violation",
    "canonical",
    "classify",
    "equivalent",
    "format_table",
    "min_stable_c",
    "parse_rational",
    "parse_rational_list",
    "preset",
    "preset_names",
    "r_exponent",
    "r_layers",
    "stability_violations",
    "symmetry_theta",
    "to_rational",
]
