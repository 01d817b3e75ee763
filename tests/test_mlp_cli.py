"""`tensorprog mlp` and `tensorprog figure4` end to end.

Expected values: f₁ = 7η + 12η³ for the depth-1 x² net (by hand from TP4 Theorem 6.1,
Eqs. 18–19 with φ = x²), and the files and exit codes the commands promise.
"""

from __future__ import annotations

import json

import pytest

from tensorprog.cli import main

pytest.importorskip("tensorprog.lang")


def test_mlp_json_reports_the_exact_limit(capsys):
    code = main(
        ["mlp", "--depth", "1", "--activation", "x^2", "--inputs", "1,1", "--targets", "1,1",
         "--lr", "1/50", "--json"]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["outputs"]["f_1"]["limit"] == "2189/15625"
    assert out["outputs"]["f_1"]["exact"] and out["outputs"]["f_1"]["rational"]
    assert out["spec"]["lr"] == "1/50"


def test_mlp_vectors_batches_emit_and_width(tmp_path, capsys):
    from tensorprog.builders import mlp_program
    from tensorprog.lang import load

    tp = tmp_path / "sgd.tp"
    code = main(
        ["mlp", "--depth", "2", "--activation", "x", "--inputs", "1 0 1; -1 1 0; 1 1 1; 2 0 0",
         "--targets=1,-1,1,1", "--lr", "0.1", "--batch-size", "2", "--batch-reduction", "mean",
         "--decoupled", "--eval-inputs", "1 1 1", "--emit", str(tp), "--width", "64",
         "--seeds", "3"]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "f_2_0" in text and "width 64" in text
    expected = mlp_program(
        2, "x", [[1, 0, 1], [-1, 1, 0], [1, 1, 1], [2, 0, 0]], [1, -1, 1, 1], "1/10",
        batch_size=2, batch_reduction="mean", decoupled=True, eval_inputs=[[1, 1, 1]],
    )
    assert load(str(tp)) == expected


def test_mlp_user_errors_exit_1(capsys):
    code = main(["mlp", "--depth", "1", "--activation", "x^", "--inputs", "1",
                 "--targets", "1", "--lr", "1"])
    assert code == 1
    assert "syntax error" in capsys.readouterr().err
    code = main(["mlp", "--depth", "1", "--activation", "x", "--inputs", "1,2",
                 "--targets", "1", "--lr", "1"])
    assert code == 1
    assert "2 inputs but 1 targets" in capsys.readouterr().err


def test_figure4_small_run(tmp_path, capsys):
    code = main(["figure4", "--out", str(tmp_path), "--steps", "2", "--seeds", "2",
                 "--widths", "32,64", "--quiet"])
    assert code == 0
    for name in ("figure4.png", "figure4_linear.png", "figure4_quadratic.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    summary = json.loads((tmp_path / "figure4.json").read_text())
    assert len(summary["panels"]) == 6
    panel = summary["panels"][0]
    assert panel["steps"] == 2 and set(panel["finite"]) == {"32", "64"}
    assert panel["limit_loss"][0] == pytest.approx(0.5)  # f̊₀ = 0, y ∈ {±1}
