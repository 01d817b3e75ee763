"""`tensorprog kernel` end to end (values: the hand recursion of tests/test_kernels.py)."""

import json

from tensorprog.cli import main


def test_kernel_json(capsys):
    # ξ = 1, d = 1, σ² = 1, φ = x², L = 1: Σ¹ = 1, NNGP = E[u⁴] = 3, NTK = 3 + 1·1·E[4u²] = 7.
    assert main(["kernel", "--depth", "1", "--activation", "x^2", "--inputs", "1",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["nngp"] == [["3"]] and out["ntk"] == [["7"]] and out["exact"] is True


def test_kernel_pretty_and_errors(capsys):
    assert main(["kernel", "--depth", "2", "--activation", "x^2", "--inputs", "1,0; 1,1",
                 "--weight-var", "2"]) == 0
    assert "888" in capsys.readouterr().out
    assert main(["kernel", "--depth", "1", "--activation", "x^2", "--inputs", "1,a"]) == 1
    assert "not a number" in capsys.readouterr().err
    assert main(["kernel", "--depth", "1", "--activation", "tanh(", "--inputs", "1"]) == 1
    err = capsys.readouterr().err
    assert "1:5" in err and "never closed" in err
