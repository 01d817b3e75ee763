"""CLI manners: Ctrl-C ends with one line and exit 130 (also inside long exact work), budgets
name their flag, bad numbers in options are refused by argparse, JSON output is strict."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from tensorprog.cli import main


def _chain(tmp_path, n: int):
    lines = ["vector x ~ N(0, 1)", "matrix W ~ N(0, 1/n)", "h0 = x"]
    for i in range(1, n + 1):
        lines += [f"a{i} = h{i - 1} + x", f"h{i} = W @ a{i}"]
    f = tmp_path / "chain.tp"
    f.write_text("\n".join(lines + [f"v = mean(h{n}^2)", "output v"]) + "\n")
    return f


@pytest.mark.parametrize("backend", ["auto", "plain"])
def test_ctrl_c_is_one_line_and_130(tmp_path, backend):
    f = _chain(tmp_path, 400)
    proc = subprocess.Popen([sys.executable, "-m", "tensorprog", "derive", str(f), "--backend",
                             backend, "--progress"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first = proc.stderr.readline()  # the first progress line: deep inside the derivation
    assert first.startswith("["), first
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("finished before the signal")
    lines = [ln for ln in err.splitlines() if not ln.startswith("[")]
    assert proc.returncode == 130 and lines == ["interrupted"], err


def test_budget_errors_name_the_flag(tmp_path, capsys):
    f = _chain(tmp_path, 300)
    assert main(["derive", str(f), "--max-seconds", "0.2", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "budget exceeded" in err and "raise --max-seconds" in err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1", "1e999", "abc"])
def test_bad_budget_values_are_refused(tmp_path, value, capsys):
    f = _chain(tmp_path, 2)
    with pytest.raises(SystemExit) as e:
        main(["derive", str(f), f"--max-seconds={value}"])
    assert e.value.code == 2 and "--max-seconds" in capsys.readouterr().err


@pytest.mark.parametrize("inputs", ["1,,2", "1,2,", ",1", "1;,2", " , "])
def test_empty_list_items_are_refused(inputs, capsys):
    assert main(["kernel", "--depth", "1", "--activation", "x", f"--inputs={inputs}"]) == 1
    assert "empty" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["mlp", "regime", "features"])
@pytest.mark.parametrize("inputs", ["1,,2", "1,2,", "1;;2"])
def test_empty_example_items_are_refused(command, inputs, capsys):
    args = [command, *(["--preset", "ntp"] if command == "regime" else []), "--depth", "1",
            "--activation", "x", f"--inputs={inputs}",
            "--targets=1,1", "--lr", "1/10"]
    assert main(args) == 1
    assert "empty" in capsys.readouterr().err


def test_exact_refusal_names_the_mode_flags(tmp_path, capsys):
    f = tmp_path / "t.tp"
    f.write_text("vector x ~ N(0, 1)\ny = tanh(x)\nm = mean(y^2)\noutput m\n")
    assert main(["derive", str(f)]) == 1
    err = capsys.readouterr().err
    assert "--mode numeric" in err and "--mode auto" in err


def test_numeric_json_is_strict_with_status(tmp_path, capsys):
    f = tmp_path / "h.tp"
    f.write_text("vector x ~ N(0, 1)\ny = exp(3*x^2/10)\nm = mean(y)\noutput m\n")
    assert main(["derive", str(f), "--mode", "numeric", "--json"]) == 0
    text = capsys.readouterr().out
    out = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert out["outputs"]["m"]["status"].startswith("heavy tail")
