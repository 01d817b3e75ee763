"""The `tensorprog derive / simulate / check` commands, through tensorprog.cli.main.

Expected limits are the hand-derived values of tests/test_programs.py (f1 = 7 eta + 12 eta^3 =
2189/15625 for depth1_x2_one_step.tp; m1 = 3, m2 = 24 for zdot_check.tp).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tensorprog.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPTH1 = os.path.join(ROOT, "programs", "depth1_x2_one_step.tp")
ZDOT = os.path.join(ROOT, "programs", "zdot_check.tp")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ derive
def test_derive_table(capsys) -> None:
    code, out, err = run(capsys, "derive", DEPTH1)
    assert code == 0 and err == ""
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("f")}
    assert rows["f0"][1:] == ["0", "0", "exact"]
    assert rows["f1"][1:] == ["2189/15625", "0.140096", "exact"]


def test_derive_json(capsys) -> None:
    code, out, _ = run(capsys, "derive", ZDOT, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["outputs"] == {
        "m1": {"value": "3", "float": 3.0, "exact": True},
        "m2": {"value": "24", "float": 24.0, "exact": True},
    }
    assert data["zdot"] == "stein" and "scalars" not in data


def test_derive_json_all_and_derivative_route(capsys) -> None:
    code, out, _ = run(capsys, "derive", DEPTH1, "--json", "--all", "--zdot", "derivative")
    assert code == 0
    data = json.loads(out)
    s = data["scalars"]
    # every scalar of the program, including inputs and chi0 = f0 - y0 = -1
    assert s["eta"]["value"] == "1/50" and s["chi0"]["value"] == "-1"
    assert s["f1"] == {"value": "2189/15625", "float": 2189 / 15625, "exact": True}
    assert data["zdot"] == "derivative"


def test_derive_latex(capsys) -> None:
    code, out, _ = run(capsys, "derive", DEPTH1, "--latex")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == "\\begin{align}" and lines[-1] == "\\end{align}"
    assert "f_{0} &= 0 \\\\" in out
    assert "f_{1} &= \\frac{2189}{15625} \\approx 0.140096" in out


def test_derive_marks_floats_numeric(tmp_path, capsys) -> None:
    prog = tmp_path / "float.tp"
    prog.write_text("scalar s = 0.5\nvector x ~ N(0, 1)\nm = mean(s * x^2)\noutput m\n")
    code, out, _ = run(capsys, "derive", str(prog), "--json")
    assert code == 0
    m = json.loads(out)["outputs"]["m"]
    assert m["exact"] is False and m["float"] == pytest.approx(0.5)  # E[0.5 x^2] = 1/2


def test_derive_program_without_outputs_lists_all_scalars(tmp_path, capsys) -> None:
    prog = tmp_path / "noout.tp"
    prog.write_text("vector x ~ N(0, 2)\nm = mean(x^4)\n")  # E[x^4] = 3 * 2^2 = 12
    code, out, _ = run(capsys, "derive", str(prog))
    assert code == 0 and "no output line" in out
    assert any(line.split()[:2] == ["m", "12"] for line in out.splitlines())


def test_derive_vector_output_shows_z(tmp_path, capsys) -> None:
    prog = tmp_path / "vec.tp"
    prog.write_text("vector x ~ N(0, 1)\ny = 2*x\nm = mean(y^2)\noutput m, y\n")
    code, out, _ = run(capsys, "derive", str(prog))
    assert code == 0
    assert any(line.startswith("Z^y = ") for line in out.splitlines())


def test_derive_auto_mode_reports_numeric_with_error(tmp_path, capsys) -> None:
    prog = tmp_path / "tanh.tp"
    prog.write_text("vector x ~ N(0, 1)\ny = tanh(x)\nm = mean(y^2)\noutput m\n")
    code, out, _ = run(capsys, "derive", str(prog), "--mode", "auto", "--json")
    assert code == 0
    m = json.loads(out)["outputs"]["m"]
    # independent value: E[tanh(g)^2], g ~ N(0,1), by 80-point Gauss-Hermite in numpy
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    expected = float(np.sum(weights * np.tanh(nodes) ** 2) / np.sqrt(2 * np.pi))
    assert m["exact"] is False and m["error"] < 1e-6
    assert abs(m["float"] - expected) < 1e-6


def test_derive_non_polynomial_is_a_user_error(tmp_path, capsys) -> None:
    prog = tmp_path / "tanh.tp"
    prog.write_text("vector x ~ N(0, 1)\ny = tanh(x)\nm = mean(y^2)\noutput m\n")
    code, out, err = run(capsys, "derive", str(prog))
    assert code == 1 and out == ""
    assert "tanh" in err and "Traceback" not in err


# ------------------------------------------------------------------ errors, exit codes
def test_parse_error_is_printed_without_traceback(tmp_path, capsys) -> None:
    prog = tmp_path / "bad.tp"
    prog.write_text("vector x ~ N(0, 1)\ny = 2x\n")
    for command in (["derive"], ["check"], ["simulate", "--width", "10"]):
        code, out, err = run(capsys, *command, str(prog))
        assert code == 1 and out == ""
        assert err.splitlines()[:3] == [
            f"{prog}:2:6: syntax error: expected end of line, found 'x'",
            "    y = 2x",
            "         ^",
        ]
        assert "hint:" in err and "Traceback" not in err


def test_program_error_exit_code(tmp_path, capsys) -> None:
    prog = tmp_path / "cycle.tp"
    prog.write_text("a = b + 1\nb = a\n")
    code, _, err = run(capsys, "check", str(prog))
    assert code == 1
    assert "'b' is used before it is defined (defined at line 2)" in err


def test_missing_file(capsys) -> None:
    code, _, err = run(capsys, "derive", "no/such/file.tp")
    assert code == 1 and "cannot read program 'no/such/file.tp'" in err


def test_usage_errors_exit_2(capsys) -> None:
    for argv in (["derive"], ["simulate", ZDOT], ["derive", ZDOT, "--zdot", "magic"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    capsys.readouterr()


@pytest.mark.parametrize("command", ["derive", "simulate", "check"])
def test_help(command, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: tensorprog {command}")


def test_top_level_help_lists_commands(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(c in out for c in ("derive", "simulate", "check"))


# ------------------------------------------------------------------ simulate
def test_simulate_json(capsys) -> None:
    code, out, _ = run(
        capsys, "simulate", ZDOT, "--width", "600", "--seeds", "8", "--seed", "3", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["width"] == 600 and data["seeds"] == list(range(3, 11))
    m1 = data["outputs"]["m1"]
    assert len(m1["values"]) == 8
    # limit 3 (hand value); tolerance 6 stderr + 10/width, as in tests/test_programs.py
    assert abs(m1["mean"] - 3) < 6 * m1["stderr"] + 10 / 600


def test_simulate_table_and_determinism(capsys) -> None:
    args = ("simulate", DEPTH1, "--width", "2000", "--seeds", "5")
    code, out1, _ = run(capsys, *args)
    code2, out2, _ = run(capsys, *args)
    assert code == code2 == 0 and out1 == out2  # fixed seeds: reproducible
    assert "f1" in out1 and "±" in out1 and "width 2000, 5 seed(s) from 0" in out1


def test_simulate_rejects_bad_width(capsys) -> None:
    code, _, err = run(capsys, "simulate", ZDOT, "--width", "0")
    assert code == 1 and "--width must be at least 1" in err
    code, _, err = run(capsys, "simulate", ZDOT, "--width", "100000")
    assert code == 1 and "GiB" in err


# ------------------------------------------------------------------ check
def test_check_summary(capsys) -> None:
    code, out, _ = run(capsys, "check", DEPTH1, ZDOT)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        f"{DEPTH1}: ok, 15 nodes (4 initial scalars, 2 initial vectors, 6 Nonlin, 2 Moment, "
        "1 scalar ops); "
        "outputs: f0, f1"
    )
    assert lines[1] == (
        f"{ZDOT}: ok, 7 nodes (1 initial vectors, 1 initial matrices, 2 MatMul, 1 Nonlin, "
        "2 Moment); outputs: m1, m2"
    )


def test_check_json_and_print(capsys) -> None:
    code, out, _ = run(capsys, "check", ZDOT, "--json")
    assert code == 0
    (entry,) = json.loads(out)
    assert entry["kinds"]["MatMul"] == 2 and entry["outputs"] == ["m1", "m2"]
    code, out, _ = run(capsys, "check", ZDOT, "--print")
    assert "a = W.T @ x" in out and "output m1, m2" in out


def test_console_entry_point_exit_codes(tmp_path) -> None:
    # the real process: python -m tensorprog (same main as the installed 'tensorprog' script)
    ok = subprocess.run([sys.executable, "-m", "tensorprog", "check", ZDOT],
                        capture_output=True, text=True)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "bad.tp"
    bad.write_text("x = (\n")
    res = subprocess.run([sys.executable, "-m", "tensorprog", "derive", str(bad)],
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 1 and "never closed" in res.stderr and "Traceback" not in res.stderr
