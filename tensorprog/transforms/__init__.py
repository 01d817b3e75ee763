"""Program transformations: reverse-mode autodiff of a model description into the Tensor
Program of its training run (:func:`train_program`), and the independent finite-width trainer
it is checked against (:func:`train_direct`)."""

from .train import (
    BATCH_REDUCTIONS,
    LOSSES,
    VJP_RULES,
    TrainSpec,
    build_training,
    train_program,
    train_spec,
)

__all__ = [
    "BATCH_REDUCTIONS",
    "LOSSES",
    "VJP_RULES",
    "TrainSpec",
    "build_training",
    "train_program",
    "train_spec",
]

from .direct import DirectResult, train_direct  # noqa: E402

__all__ += ["DirectResult", "train_direct"]

from .maml import maml_direct, maml_program  # noqa: E402

__all__ += ["maml_direct", "maml_program"]
