"""`tensorprog regime`: the kernel-regime limit on the command line, against a hand derivation.

Depth 1 NTP, φ = x², points ξ_0 = 1 (trained on, y = 1) and ξ_1 = −1/2, η = 1/2:
* NTK K(ξ, ξ') = E[φ(uξ)φ(uξ')] + ξξ' E[φ'(uξ)φ'(uξ')] = 3ξ²ξ'² + 4ξ²ξ'² = 7ξ²ξ'²;
* f_0 ~ N(0, NNGP) with NNGP(ξ, ξ') = 3ξ²ξ'², so Var f_0(1) = 3 and E loss_0 = ½(3 + 1) = 2;
* f_1(ξ_1) = f_0(ξ_1) − η K(ξ_1, ξ_0)(f_0(ξ_0) − 1) = f_0(ξ_1) − (7/8)(f_0(ξ_0) − 1): mean 7/8,
  variance 3/16 − 2(7/8)(3/4) + (49/64)·3 = 75/64.
"""

from __future__ import annotations

import json

from tensorprog.cli import main

ARGS = ["regime", "--preset", "ntp", "--depth", "1", "--activation", "x^2", "--inputs",
        "1,-1/2", "--targets", "1,0", "--lr", "1/2"]  # fmt: skip


def test_regime_json_matches_hand_derivation(capsys):
    assert main(ARGS + ["--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["is_limit"] is True
    assert d["kernel"] == [["7", "7/4"], ["7/4", "7/16"]]
    assert d["f0_cov"] == [["3", "3/4"], ["3/4", "3/16"]]
    out = d["outputs"]
    assert out["f_0"] == {"mean": "0", "var": "3"}
    assert out["loss_0"]["mean"] == "2"
    assert out["f_1"] == {"mean": "7/8", "var": "75/64"}


def test_regime_refuses_mup_with_the_reason(capsys):
    code = main(["regime", "--preset", "mup", "--depth", "1", "--activation", "x^2",
                 "--inputs", "1", "--targets", "1", "--lr", "1/2"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "Theorem 3.6" in err and "Traceback" not in err
