"""Progress bar, --mode float and budget options of `tensorprog derive` / `tensorprog mlp`.

Expected values: f1 = 7η + 12η³ = 2189/15625 for programs/depth1_x2_one_step.tp (by hand from
TP4 Theorem 6.1, Eqs. 18–19 with φ = x²). Z^{nV1} = nV0 − η χ₀ x0 with η = 1/50, χ₀ = −1 has the
coefficient 1/50 (numerator + denominator = 3 digits) times the innovation variances, so a
3-digit budget must stop there or earlier; the test checks that the refusal is located at that
line (22) of the file.
"""

from __future__ import annotations

import io
import json
import os

from tensorprog.cli import main
from tensorprog.cli._progress import ProgressBar

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPTH1 = os.path.join(ROOT, "programs", "depth1_x2_one_step.tp")


def test_bar_is_silent_for_quick_work_and_draws_after_the_delay():
    quiet = io.StringIO()
    bar = ProgressBar(force=True, delay=60, stream=quiet)
    for i in range(5):
        bar(i, 5, f"n{i}")
    bar.close()
    assert quiet.getvalue() == ""
    log = io.StringIO()
    bar = ProgressBar(force=True, delay=0, stream=log)
    bar(0, 4, "first")
    bar(4, 4, "")
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("[" + "." * 30 + "] 0/4 first")
    assert lines[-1].startswith("[" + "#" * 30 + "] 4/4")


def test_bar_needs_a_terminal_unless_forced():
    assert not ProgressBar(stream=io.StringIO()).enabled
    assert ProgressBar(stream=io.StringIO(), force=True).enabled


def test_derive_float_mode_agrees_with_exact(capsys):
    assert main(["derive", DEPTH1, "--mode", "float", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    text = json.dumps(out)
    assert "float" in text
    f1 = next(v for k, v in out["outputs"].items() if k == "f1")
    value = f1["value"] if isinstance(f1, dict) else f1
    assert abs(float(value) - 2189 / 15625) < 1e-15


def test_derive_float_mode_table_says_float64(capsys):
    assert main(["derive", DEPTH1, "--mode", "float"]) == 0
    out = capsys.readouterr().out
    assert "(float," in out and out.count("float64") == 2 and "exact" not in out.split("\n", 2)[2]


def test_derive_budget_refusal_names_the_line(capsys):
    assert main(["derive", DEPTH1, "--max-digits", "3"]) == 1
    err = capsys.readouterr().err
    assert "depth1_x2_one_step.tp:22:1" in err and "nV1" in err and "max_digits=3" in err
    assert "Traceback" not in err


def test_mlp_float_mode_and_budget(capsys):
    args = ["mlp", "--depth", "1", "--activation", "x^2", "--inputs", "1;-1", "--targets",
            "1,-1", "--lr", "1/50"]  # fmt: skip
    assert main(args + ["--mode", "float", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert abs(out["outputs"]["f_1"]["limit_float"] - 2189 / 15625) < 1e-15
    assert out["outputs"]["f_1"]["exact"] is False
    assert main(args + ["--mode", "exact", "--max-digits", "3"]) == 1
    assert "budget exceeded" in capsys.readouterr().err
