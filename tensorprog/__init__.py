"""tensorprog: infinite-width limits of neural-network computations via Tensor Programs.

Everything a user needs is importable from here::

    from tensorprog import Program, derive_limit, simulate, parse, load
    from tensorprog import mlp_program, train_mlp, mlp_kernels, classify, preset
    from tensorprog import kernel_regime_limit, feature_limit, Budget

Paper references: docs/references.md.
"""

from .budget import Budget
from .builders import MLPSpec, mlp_program, mlp_spec
from .errors import (
    BudgetExceeded,
    NonPolynomialError,
    ParametrizationError,
    ParseError,
    ProgramError,
    SourceLoc,
    TensorProgError,
    UnknownNameError,
)
from .features import FeatureDiagnostics, feature_limit, min_eigenvalue
from .finite import run_finite, simulate
from .ir import MatrixRef, Param, Program, sym
from .kernels import Kernels, mlp_kernels
from .lang import expr_to_tp, load, parse, parse_expression, to_tp
from .numeric import NumericLimit
from .parametrization import ABCParametrization, Classification, classify, equivalent, preset
from .regimes import KernelRegime, kernel_regime_limit
from .result import LimitResult
from .training import TrainResult, train_mlp
from .transforms import maml_program, train_direct, train_program
from .zcalc import Limit, derive_limit

__all__ = [
    "ABCParametrization",
    "Budget",
    "BudgetExceeded",
    "Classification",
    "FeatureDiagnostics",
    "KernelRegime",
    "Kernels",
    "Limit",
    "LimitResult",
    "MLPSpec",
    "MatrixRef",
    "NonPolynomialError",
    "NumericLimit",
    "Param",
    "ParametrizationError",
    "ParseError",
    "Program",
    "ProgramError",
    "SourceLoc",
    "TensorProgError",
    "TrainResult",
    "UnknownNameError",
    "classify",
    "derive_limit",
    "equivalent",
    "expr_to_tp",
    "feature_limit",
    "kernel_regime_limit",
    "load",
    "maml_program",
    "min_eigenvalue",
    "mlp_kernels",
    "mlp_program",
    "mlp_spec",
    "parse",
    "parse_expression",
    "preset",
    "run_finite",
    "simulate",
    "sym",
    "to_tp",
    "train_direct",
    "train_mlp",
    "train_program",
]

__version__ = "0.1.0"
