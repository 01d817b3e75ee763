"""Tests of `tensorprog classify`, run through the dispatcher tensorprog.cli.main.

Expected values: TP4 (Yang & Hu, arXiv:2011.14522) Table 1 and Definition 5.1, and Chen et al.
(arXiv:2503.09565) Table 2, as transcribed in the comments; hand derivations where noted.
"""

from __future__ import annotations

import json

import pytest

from tensorprog.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["classify", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict]:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)["classifications"]


def test_preset_mup_table(capsys) -> None:
    code, out, err = run(capsys, "--preset", "mup", "--depth", "3")
    assert code == 0 and err == ""
    rows = {line.split("  ")[0].strip(): line for line in out.splitlines()}
    # TP4 Definition 5.1 at L = 3, and its Table 1 column: r = 0, both Eq. (8) quantities 1,
    # nontrivial, stable, feature learning, not kernel.
    assert rows["a_l"].endswith("-1/2, 0, 0, 1/2")
    assert rows["b_l"].endswith("1/2, 1/2, 1/2, 1/2")
    assert rows["r"].split()[-1] == "0"
    assert rows["2a_{L+1} + c"].split()[-1] == "1"
    assert rows["a_{L+1} + b_{L+1} + r"].split()[-1] == "1"
    for label, mark in [("Nontrivial?", "✓"), ("Stable?", "✓"), ("Feature Learning?", "✓"),
                        ("Kernel Regime?", "✗")]:  # fmt: skip
        assert rows[label].split()[-1] == mark, label
    # Thm 5.6: every layer updated maximally.
    assert rows["Updated maximally"].endswith("W^1, W^2, W^3, W^4")
    assert "violates" not in out


def test_custom_abc_equals_preset(capsys) -> None:
    custom = run_json(capsys, "--a=-1/2,0,0,1/2", "--b", "1/2,1/2,1/2,1/2", "--c", "0")
    mup = run_json(capsys, "--preset", "mup", "--depth", "3")
    strip = lambda d: {k: v for k, v in d.items() if k not in ("parametrization", "canonical")}  # noqa: E731
    assert strip(custom[0]) == strip(mup[0])
    assert custom[0]["equivalent_presets"] == ["mup"]


def test_layerwise_form_from_chen_table2(capsys) -> None:
    # Chen et al. Table 2, μP with one hidden layer between input and output (L = 2):
    # Var (1, n^-1, n^-2) and LR (η n, η, η n^-1).
    [d] = run_json(capsys, "--var-exp", "0,-1,-2", "--lr-exp", "1,0,-1")
    assert d["parametrization"]["a"] == ["-1/2", "0", "1/2"]
    assert d["parametrization"]["b"] == ["1/2", "1/2", "1/2"]
    assert d["equivalent_presets"] == ["mup"]


def test_table1_columns(capsys) -> None:
    # TP4 Table 1 (SP w/ LR 1/n, NTP, MFP (L = 1), μP): r, 2a_{L+1}+c, a_{L+1}+b_{L+1}+r, c and
    # the four check rows.
    expected = [
        ("sp_lr_1/n", "1/2", "1", "1", "1", True, True, False, True),
        ("ntp", "1/2", "1", "1", "0", True, True, False, True),
        ("mfp", "0", "1", "1", "-1", True, True, True, False),
        ("mup", "0", "1", "1", "0", True, True, True, False),
    ]
    got = run_json(capsys, "--table1", "--depth", "3")
    assert len(got) == 4
    for d, (name, r, upd, ini, c, nontriv, stable, fl, kernel) in zip(got, expected, strict=True):
        assert d["parametrization"]["name"] == name
        assert (d["r"], d["2a_{L+1}+c"], d["a_{L+1}+b_{L+1}+r"]) == (r, upd, ini)
        assert d["parametrization"]["c"] == c == d["min_stable_c"]  # Table 1 caption
        assert (d["nontrivial"], d["stable"]) == (nontriv, stable)
        assert (d["feature_learning"], d["kernel_regime"]) == (fl, kernel)
    assert got[2]["depth"] == 1  # MFP is a 1-hidden-layer column


def test_several_presets_and_violations_listed(capsys) -> None:
    code, out, _ = run(capsys, "--preset", "sp,ntp", "--preset", "ip", "--depth", "2")
    assert code == 0
    header = out.splitlines()[0]
    assert "sp (L = 2)" in header and "ntp (L = 2)" in header and "ip (L = 2)" in header
    # SP, L = 2, c = 0 by hand: r_2 = min(1/2, 0) - 1 + 0 = -1, 2a_3 + c = 0,
    # a_3 + b_3 + r = -1/2; IP: a_2 + b_2 = 1 (vanishing preactivation at initialization).
    assert "sp (L = 2) violates (Theorem 3.3):" in out
    assert "Eq. (7) at layer 2: r >= 0 (r_2 >= 0, Prop. 5.3) fails (value -1)" in out
    assert "Eq. (8) at layer 3: 2a_3 + c >= 1 fails (value 0)" in out
    assert "Eq. (8) at layer 3: a_3 + b_3 + r >= 1 fails (value -1/2)" in out
    assert "ip (L = 2) violates" in out and "a_2 + b_2 = 1/2 fails (value 1)" in out
    assert "ntp (L = 2) violates" not in out


def test_ascii_output(capsys) -> None:
    code, out, _ = run(capsys, "--preset", "sp", "--depth", "2", "--ascii")
    assert code == 0
    out.encode("ascii")  # raises if anything non-ASCII slipped through
    assert "Stable?" in out and " no" in out


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--preset", "mfp", "--depth", "3"], "L = 1"),
        (["--preset", "nope", "--depth", "2"], "unknown preset"),
        (["--preset", "mup"], "--preset needs --depth"),
        ([], "nothing to classify"),
        (["--a", "0,0,0", "--b", "0,1/2", "--c", "0"], "--a has 3 exponents but --b has 2"),
        (["--a", "0,0", "--b", "0,1/2"], "missing --c"),
        (["--a", "0,0", "--b", "0,1/2", "--c", "1,2"], "--c takes one rational"),
        (["--a", "0,0", "--b", "0,1/2", "--c", "0", "--depth", "3"], "--depth is 3"),
        (["--a", "0,1/0", "--b", "0,1/2", "--c", "0"], "zero denominator"),
        (["--a", "0,2**3", "--b", "0,1/2", "--c", "0"], "not a rational number"),
        (["--var-exp", "0,-1"], "go together"),
        (["--preset", "sp", "--depth", "0"], "positive integer"),
    ],
)
def test_errors_exit_1_with_hint(capsys, argv: list[str], needle: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith("parametrization error:") and needle in err
    assert "hint:" in err and "Traceback" not in err
