"""tensorprog: infinite-width limits of neural-network computations via Tensor Programs.

Public API::

    from tensorprog import Program, derive_limit, simulate, parse, load
"""

from .errors import (
    BudgetExceeded,
    NonPolynomialError,
    ParseError,
    ProgramError,
    SourceLoc,
    TensorProgError,
)
from .finite import run_finite, simulate
from .ir import MatrixRef, Param, Program, sym
from .zcalc import Limit, derive_limit

__all__ = [
    "BudgetExceeded",
    "Limit",
    "MatrixRef",
    "NonPolynomialError",
    "Param",
    "ParseError",
    "Program",
    "ProgramError",
    "SourceLoc",
    "TensorProgError",
    "derive_limit",
    "run_finite",
    "simulate",
    "sym",
]

try:  # the .tp front end (tensorprog.lang) is optional at import time while it is built
    from .lang import load, parse  # noqa: F401

    __all__ += ["load", "parse"]
except ImportError:  # pragma: no cover
    pass

__version__ = "0.1.0"
