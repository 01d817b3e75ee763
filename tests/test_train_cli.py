"""`tensorprog train`: the CLI logic on a Python-built model, and end to end on `.tp` files
with param/input declarations (skipped while the parser does not know that syntax).

Expected values: the hand-derived one-step RNN limit f₁ = −ε(4aa' + 3bb' + 2cc'), ε = η(0 − y),
of tests/test_train_limits.py (ξ = (1, 2, 1), ξ' = (1, 1, 1), y = 1, η = 1/10: f₁ = 6/5), and
the output names and exit codes the command promises.
"""

from __future__ import annotations

import json

import pytest

from tensorprog.cli import build_parser, main
from tensorprog.cli.train import run_model
from tensorprog.errors import TensorProgError
from tensorprog.transforms.examples import rnn, two_outputs

RNN_TP = """\
param vector U ~ N(0, 1)
param vector nV ~ N(0, 1)
param matrix W ~ N(0, 1/n)
input xi1, xi2, xi3
s1 = xi1 * U
s2 = W @ s1 + xi2 * U
s3 = W @ s2 + xi3 * U
f = mean(nV * s3)
output f
"""


def args_for(argv):
    return build_parser().parse_args(["train", "MODEL.tp", *argv])


def test_run_model_json_reports_the_hand_derived_limit(capsys):
    args = args_for(["--inputs", "1,2,1; 1,1,1", "--targets", "1,0", "--lr", "1/10", "--json"])
    assert run_model(rnn(), args) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["outputs"]) == ["f_0", "loss_0", "f_1", "loss_1"]
    assert out["outputs"]["f_0"]["limit"] == "0"
    assert out["outputs"]["f_1"]["limit"] == "6/5"
    assert out["outputs"]["f_1"]["exact"]
    assert out["params"]["W"]["role"] == "hidden"


def test_run_model_batches_outputs_width_and_emit(tmp_path, capsys):
    lang = pytest.importorskip("tensorprog.lang")
    emit = tmp_path / "train.tp"
    args = args_for(["--inputs", "1 -1; 1/2 1", "--targets", "1 0; -1 1/2", "--lr", "1/8",
                     "--batch-size", "2", "--eval-inputs", "1 1;", "--width", "64",
                     "--seeds", "3", "--emit", str(emit), "--mode", "float"])
    assert run_model(two_outputs(), args) == 0
    text = capsys.readouterr().out
    for name in ["f1_0_0", "f2_0_1", "loss_0_1", "f1_1_0", "f2_1_0"]:
        assert name in text
    assert "width 64" in text
    p = lang.parse(emit.read_text())
    assert p.outputs[-2:] == ["f1_1_0", "f2_1_0"]


def test_run_model_user_errors():
    with pytest.raises(TensorProgError, match="3 are expected"):
        run_model(rnn(), args_for(["--inputs", "1,2; 1,1", "--targets", "1,0", "--lr", "1"]))
    with pytest.raises(TensorProgError, match="cannot read"):
        run_model(rnn(), args_for(["--inputs", "1,2,1", "--targets", "1", "--lr", "fast"]))


def test_train_command_end_to_end(tmp_path, capsys):
    path = tmp_path / "rnn.tp"
    path.write_text(RNN_TP)
    code = main(["train", str(path), "--inputs=1,2,1; 1,1,1", "--targets=1,0", "--lr", "1/10",
                 "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["outputs"]["f_1"]["limit"] == "6/5"


def test_train_command_bad_file_exits_1(tmp_path, capsys):
    code = main(["train", str(tmp_path / "missing.tp"), "--inputs", "1", "--targets", "1",
                 "--lr", "1"])
    assert code == 1
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "mlp"])
def test_emit_never_overwrites_without_force(tmp_path, capsys, command):
    model = tmp_path / "rnn.tp"
    model.write_text(RNN_TP)
    target = tmp_path / "out.tp"
    target.write_text("keep me")
    args = (["train", str(model), "--inputs=1,2,1", "--targets=1"] if command == "train" else
            ["mlp", "--depth", "1", "--activation", "x", "--inputs", "1", "--targets", "1"])
    args += ["--lr", "1/10", "--no-limit", "--emit", str(target)]
    assert main(args) == 1
    assert "already exists" in capsys.readouterr().err
    assert target.read_text() == "keep me"
    assert main(args + ["--force"]) == 0
    assert target.read_text().startswith(("#", "param", "vector", "scalar", "matrix"))
