"""Builders: turn a high-level training spec into a Tensor Program.

* :func:`mlp_program` -- an L-hidden-layer MLP trained by SGD in μP (TP4 §5–6, 001 App. B).
"""

from .mlp import (
    BATCH_REDUCTIONS,
    LOSSES,
    PARAMETRIZATIONS,
    MLPSpec,
    build_program,
    mlp_program,
    mlp_spec,
)

__all__ = [
    "BATCH_REDUCTIONS",
    "LOSSES",
    "MLPSpec",
    "PARAMETRIZATIONS",
    "build_program",
    "mlp_program",
    "mlp_spec",
]
