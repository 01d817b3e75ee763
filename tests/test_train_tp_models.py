"""The example forward models shipped as `.tp` files (programs/models/) train end to end: each
parses, its generated training program reproduces the independent direct trainer with the same
draws (1e-10, as in test_train_trajectories)."""

from __future__ import annotations

from fractions import Fraction as F
from pathlib import Path

import numpy as np
import pytest

from tensorprog import load
from tests.test_train_trajectories import RTOL, compare, dataset

MODELS = sorted((Path(__file__).resolve().parent.parent / "programs" / "models").glob("*.tp"))


def test_every_shipped_model_is_found():
    assert {p.stem for p in MODELS} >= {"residual", "rnn", "mlp_bias", "two_outputs",
                                          "normalized", "mlp3"}


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_tp_model_trains_like_the_direct_trainer(path):
    model = load(path)
    assert model.params and model.inputs and model.outputs
    data = dataset(model, 4, seed=len(path.stem))
    # small η: the x² models blow up quickly at larger steps (growth, not a bug)
    opts = dict(lr=F(1, 100), batch_size=2, epochs=1, eval_inputs=data[0][:1])
    err, spread = compare(None, model, data, seed=7, **opts)
    assert spread > 1e-3  # training moved the network
    assert err < RTOL
    assert np.isfinite(spread)
