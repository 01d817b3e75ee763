"""The README's examples say what the code does: the Python API in 30 seconds (hand values:
E[Z^b Z^x] = 3, E[(Z^b)²] = 15 + 9 = 24, derived in docs/engine.md) and the RNN training example,
whose model ships as programs/models/rnn_linear.tp (one SGD step by hand: f₁ = −ε(4aa' + 3bb' +
2cc') with ε = η(f₀ − y) = −1/10, ξ = (1, 2, 1), ξ' = (1, 1, 1): f₁ = 6/5, loss₁ = ½ f₁² = 18/25;
the derivation is in tests/test_train_limits.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import sympy as sp

from tensorprog import Program, derive_limit, simulate
from tensorprog.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _code(line: str) -> str:
    return line.split("#")[0].rstrip()


def test_the_readme_rnn_is_the_shipped_model():
    block = re.search(r"```\n# rnn\.tp\n(.*?)```", README, re.S).group(1)
    shipped = (ROOT / "programs/models/rnn_linear.tp").read_text(encoding="utf-8")
    strip = [_code(x) for x in shipped.splitlines() if _code(x)]
    assert [_code(x) for x in block.splitlines() if _code(x)] == strip
    assert "programs/models/rnn_linear.tp" in README


def test_the_readme_rnn_limits(capsys):
    code = main(["train", str(ROOT / "programs/models/rnn_linear.tp"), "--inputs=1,2,1; 1,1,1",
                 "--targets=1,0", "--lr", "1/10", "--json"])  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)["outputs"]
    assert out["f_1"]["limit"] == "6/5" and out["loss_1"]["limit"] == "18/25"
    assert "f_1  limit 6/5" in README and "loss_1  limit 18/25" in README


def test_the_python_api_in_30_seconds():
    p = Program()
    x = p.vector("x")
    W = p.matrix("W")
    a = p.matmul("a", W.T, x)
    c = p.nonlin("c", a**3)
    b = p.matmul("b", W, c)
    p.moment("m1", b * x)
    p.moment("m2", b**2)
    p.output("m1", "m2")
    lim = derive_limit(p)
    assert lim.outputs == {"m1": 3, "m2": 24}
    assert "lim.outputs          # {'m1': 3, 'm2': 24}" in README
    Zb = lim.Z("b")
    atoms = {s.name: s for s in Zb.free_symbols}
    assert sp.expand(Zb - 3 * atoms["Z^{x}"] - atoms["Ẑ^{W c}"]) == 0
    assert lim.families["W"].covariance == sp.Matrix([[15]])
    # The README quotes the finite-width check with its numbers: same seeds, same values.
    sim = simulate(p, width=4000, seeds=10)
    mean, err = sim.mean("m2"), sim.stderr("m2")
    quoted = re.search(r"sim\.mean\(\"m2\"\), sim\.stderr\(\"m2\"\)\s+# ≈ ([0-9.]+) ± ([0-9.]+)",
                       README)  # fmt: skip
    assert quoted, "the README quotes the simulation's mean ± stderr"
    assert abs(mean - float(quoted.group(1))) < 0.05 and abs(err - float(quoted.group(2))) < 0.05
    assert abs(mean - 24) < 3 * err  # and the limit is within its error bar
