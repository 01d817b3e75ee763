"""`tensorprog features`: Chen et al. Table 1 in the limit, per-layer details, JSON, bad input.

The Table 1 expectations (feature learning ✗ ✗ ✓ ✓, richness Rich Rich Low Rich for SP, NTP,
IP, μP) are the paper's (Chen, Yang, Zhao & Gu, arXiv:2503.09565, Table 1), not the program's
own column.
"""

from __future__ import annotations

import json

import pytest
import sympy as sp

from tensorprog.cli import main

PAPER = {"Standard (SP)": ("✗", "Rich"), "Neural Tangent (NTP)": ("✗", "Rich"),
         "Meanfield (IP)": ("✓", "Low"), "Maximal Update (μP)": ("✓", "Rich")}  # fmt: skip


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_table_reproduces_chen_table_1(capsys):
    code, out, _ = run(capsys, "features", "--table")
    assert code == 0
    lines = out.splitlines()
    for label, (fl, rich) in PAPER.items():
        row = next(line for line in lines if line.startswith(label))
        cells = row[len(label):].split()
        assert cells[0] == fl and cells[1] == rich, row


def test_json_has_exact_per_layer_numbers(capsys):
    """μP depth 1, φ = x, ξ = 1 → y = 1, η = 1/2, probe 1: change η² = 1/4 (by hand: U_1 = U +
    η nV since f_0 = 0, χ_0 = −1) and joint Gram [[1, 1], [1, 5/4]]."""
    code, out, _ = run(capsys, "features", "--preset", "mup", "--depth", "1", "--activation",
                       "x", "--inputs", "1", "--targets", "1", "--lr", "1/2", "--probes", "1",
                       "--json")  # fmt: skip
    assert code == 0
    (D,) = json.loads(out)["diagnostics"]
    layer = D["layers"]["1"]
    assert layer["change"] == ["1/4"]
    assert layer["gram_init"] == [["1"]] and layer["gram_final"] == [["5/4"]]
    assert sp.Rational(layer["min_eig_final"]["exact"]) == sp.Rational(5, 4)
    assert D["feature_learning"] is True


def test_details_print_every_layer(capsys):
    code, out, _ = run(capsys, "features", "--preset", "ntp", "--depth", "2")
    assert code == 0
    assert "layer 1" in out and "layer 2" in out and "feature learning: no" in out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--preset", "nosuch", "--depth", "2"], "nosuch"),
        (["--preset", "mup", "--depth", "2", "--probes", "1 0; 0 x"], "--probes"),
        (["--preset", "mup", "--depth", "2", "--probes", "1 0 0"], "--probes"),
        (["--preset", "mup", "--depth", "2", "--activation", "tanh(x)"], "tanh"),
        (["--preset", "mup", "--depth", "2", "--activation", "__import__('os')"], "activation"),
        (["--a", "0,0,0", "--b", "0,0,0", "--c", "0"], "unstable"),
    ],
)
def test_bad_input_is_one_clear_error(capsys, argv, words):
    code, out, err = run(capsys, "features", *argv)
    assert code == 1
    assert "Traceback" not in err
    assert words.lower() in err.lower(), err
