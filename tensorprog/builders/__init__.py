"""Builders: turn a high-level training spec into a Tensor Program.

* :func:`mlp_program` -- an L-hidden-layer MLP trained by SGD in μP (TP4, Yang & Hu,
  arXiv:2011.14522, §5–6): the forward model :func:`mlp_model` transformed by
  :func:`tensorprog.transforms.train_program`.
"""

from .mlp import (
    BATCH_REDUCTIONS,
    LOSSES,
    PARAMETRIZATIONS,
    MLPSpec,
    build_program,
    mlp_model,
    mlp_program,
    mlp_spec,
)

__all__ = [
    "BATCH_REDUCTIONS",
    "LOSSES",
    "MLPSpec",
    "PARAMETRIZATIONS",
    "build_program",
    "mlp_model",
    "mlp_program",
    "mlp_spec",
]
