"""Hostile sizes and numbers for simulate, kernel, regime and features: refused up front with the
flag and the fix, or printed whole — never a traceback, a hang or an out-of-memory kill."""

from __future__ import annotations

import sympy as sp

from tensorprog import derive_limit, parse
from tensorprog.cli import main

PROGRAM = "vector x ~ N(0, 1)\nm = mean(x^2)\noutput m\n"


def _run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


def test_simulate_refuses_seed_counts_before_making_them(tmp_path, capsys):
    """10^9 seeds: refused before a list of 10^9 seeds exists (by the memory of the returned
    scalars or the time estimate, whichever is hit first); 10^8 seeds at width 4: ~4 hours of
    interpreter overhead at ~140 µs per run (refused by the one-hour time estimate)."""
    f = tmp_path / "p.tp"
    f.write_text(PROGRAM)
    code, _, err = _run(["simulate", str(f), "--width", "4", "--seeds", "1000000000"], capsys)
    assert code == 1 and ("seeds keep" in err or "would take" in err) and "fewer seeds" in err
    code, _, err = _run(["simulate", str(f), "--width", "4", "--seeds", "100000000"], capsys)
    assert code == 1 and "would take" in err


def test_kernel_prints_numbers_of_any_length(capsys):
    """σ² = W_std² = 10^5000, depth 1, φ = x, ξ = (1, 0), d = 2: h ~ N(0, σ²|ξ|²/d), so
    NNGP = σ² E[h²] = σ⁴/2 = 5·10^9999 (10,000 digits) and NTK = NNGP + σ² (|ξ|²/d) σ² E[φ'²]
    = σ⁴ = 10^10000 (one more digit): past CPython's 4300-digit str limit that sympy's pretty
    printer hit."""
    code, out, _ = _run(["kernel", "--depth", "1", "--activation", "x", "--inputs", "1,0",
                         "--weight-var", "1e5000"], capsys)  # fmt: skip
    assert code == 0 and "(10000 chars)" in out and "(10001 chars)" in out
    code, out, _ = _run(["kernel", "--depth", "1", "--activation", "x", "--inputs", "1,0",
                         "--weight-var", "1e5000", "--latex"], capsys)  # fmt: skip
    assert code == 0 and "5" + "0" * 9999 + " " in out and r"\begin{pmatrix}" in out
    code, out, _ = _run(["kernel", "--depth", "2", "--activation", "x^2", "--inputs",
                         "1,0; 1,1"], capsys)  # fmt: skip
    assert code == 0 and "[ 27/16   17/4 ]" in out  # the table of docs/parametrizations.md


def test_kernel_and_regime_depth_and_sizes_are_bounded(capsys):
    code, _, err = _run(["kernel", "--depth", "100000", "--activation", "x", "--inputs", "1,0"],
                        capsys)  # fmt: skip
    assert code == 1 and "--depth must be between 1 and 10,000" in err
    base = ["regime", "--preset", "ntp", "--activation", "x^2", "--inputs", "1,-1/2",
            "--targets", "1,0", "--lr", "1/2"]  # fmt: skip
    code, _, err = _run(base + ["--depth", "100000"], capsys)
    assert code == 1 and "more than 10,000" in err
    code, _, err = _run(base + ["--depth", "1", "--width", "99999999999", "--seeds", "2"], capsys)
    assert code == 1 and "GiB" in err and "smaller --width" in err
    code, _, err = _run(base + ["--depth", "1", "--width", "8", "--seeds", "1000000000"], capsys)
    assert code == 1 and "--seeds between 1 and 100,000" in err


def test_features_honours_a_time_budget(capsys):
    """Depth-5 SP/NTP/IP/μP table: minutes of exact algebra; --max-seconds stops it cleanly and
    the hint names a flag the command has (features has no --mode)."""
    code, _, err = _run(["features", "--table", "--depth", "5", "--max-seconds", "2",
                         "--no-progress"], capsys)  # fmt: skip
    assert code == 1 and "budget exceeded" in err and "--max-seconds" in err
    assert "--mode" not in err


def test_out_of_memory_is_one_line(monkeypatch, tmp_path, capsys):
    """A size no estimate caught still ends in one line, not a MemoryError traceback."""
    import tensorprog.finite as finite

    def boom(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(finite, "run_finite", boom)
    f = tmp_path / "p.tp"
    f.write_text(PROGRAM)
    code, _, err = _run(["simulate", str(f), "--width", "4", "--seeds", "2"], capsys)
    assert code == 1 and err.startswith("error: out of memory")


def test_limits_of_the_simulated_program_are_unchanged():
    assert derive_limit(parse(PROGRAM))["m"] == sp.Integer(1)


def test_float_mode_refusal_names_the_mode_that_works(capsys):
    """Float mode is the same polynomial algebra as exact mode: tanh needs --mode numeric."""
    code, _, err = _run(["mlp", "--depth", "1", "--activation", "tanh(x)", "--inputs", "1",
                         "--targets", "1", "--lr", "1/50", "--mode", "float"], capsys)  # fmt: skip
    assert code == 1 and "--mode numeric" in err
