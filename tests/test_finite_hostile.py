"""Finite width on hostile inputs: clean errors (never a numpy/sympy traceback) for zero
divisors, impossible sizes and bad seeds; non-polynomial powers such as 2^x just work."""

from __future__ import annotations

import math

import pytest

from tensorprog import ProgramError, parse, run_finite, simulate
from tensorprog.cli import main


@pytest.mark.parametrize("divisor", ["a", "m - m2", "a*m", "(m - m2)^3", "z"])
def test_zero_scalar_divisor(divisor):
    p = parse("scalar a = 0\nvector x ~ N(0, 1)\nm = mean(x^2)\nm2 = mean(x*x)\nz = m - m2\n"
              f"b = m / ({divisor})\noutput b\n")
    with pytest.raises(ProgramError, match="'b'.*division by zero") as e:
        run_finite(p, 10, rng=0)
    assert e.value.loc is not None and e.value.loc.line == 6


def test_two_to_the_x():
    """E[2^Z] = exp((ln 2)²/2) for Z ~ N(0, 1) (the Gaussian moment generating function);
    the sample mean over n = 20000 coordinates has standard deviation
    sqrt((E[4^Z] - E[2^Z]²)/n) ≈ 0.0057, so 5 of them is a tolerance that does not flake."""
    p = parse("vector x ~ N(0, 1)\ny = 2^x\nm = mean(y)\noutput m\n")
    m = run_finite(p, 20000, rng=1)["m"]
    truth = math.exp(math.log(2) ** 2 / 2)
    sd = math.sqrt((math.exp(2 * math.log(2) ** 2) - truth**2) / 20000)
    assert abs(m - truth) < 5 * sd


@pytest.mark.parametrize(("width", "seeds", "why"), [
    (10**6, 1, "GiB"),              # one dense 10⁶ × 10⁶ matrix: 8 TB
    (10**10, 1, "GiB"),             # vectors alone: 80 GB each
    (2000, 10**7, "would take"),    # fits, but ~10⁷ matrix draws
])  # fmt: skip
def test_impossible_sizes_are_refused_up_front(width, seeds, why):
    p = parse("vector x ~ N(0, 1)\nmatrix W ~ N(0, 1/n)\nh = W @ x\nm = mean(h^2)\noutput m\n")
    with pytest.raises(ProgramError, match=why):
        simulate(p, width, seeds)


@pytest.mark.parametrize("bad", [-1, -(2**70), 1.5, "3"])
def test_bad_seeds(bad):
    p = parse("vector x ~ N(0, 1)\nm = mean(x^2)\noutput m\n")
    with pytest.raises(ProgramError, match="seed"):
        simulate(p, 10, [bad])


def test_cli(tmp_path, capsys):
    f = tmp_path / "p.tp"
    f.write_text("scalar a = 0\nvector x ~ N(0, 1)\nm = mean(x^2)\nb = m / a\noutput b\n")
    assert main(["simulate", str(f), "--width", "10", "--seed", "-3"]) == 1
    assert "non-negative" in capsys.readouterr().err
    assert main(["simulate", str(f), "--width", "10"]) == 1
    err = capsys.readouterr().err
    assert "division by zero" in err and "Traceback" not in err


@pytest.mark.parametrize("text", [
    "scalar a = -1\nb = log(a)\noutput b\n",
    "scalar a = -4\nb = sqrt(a)\noutput b\n",
    "vector x ~ N(0, 1)\nh = log(x)\nm = mean(h)\noutput m\n",   # x < 0 on ~half the coordinates
    "vector x ~ N(0, 1)\nm = mean(x^2)\nb = (-m)^(1/2)\noutput b\n",
])  # fmt: skip
def test_values_without_a_real_value_are_refused_with_their_line(text):
    """NaN from finite operands: refused like the limit engines refuse it, naming the line
    (no numpy RuntimeWarning, no nan in the table)."""
    p = parse(text, "u.tp")
    with pytest.raises(ProgramError, match="undefined at width 64") as err:
        run_finite(p, 64, 0)
    assert err.value.loc is not None and err.value.loc.file == "u.tp"


def test_nan_after_a_divergence_is_left_to_the_caller():
    """∞ − ∞ (a run that overflowed) is not a domain error of a function: the NaN stays."""
    p = parse("scalar a = 10\nb = exp(exp(a))\nb2 = exp(exp(a))\nc = b - b2\noutput c\n")
    env = run_finite(p, 8, 0)
    assert math.isinf(env["b"]) and math.isnan(env["c"])
    ok = run_finite(parse("vector x ~ N(0, 1)\nh = log(1 + x^2)\nm = mean(h)\noutput m\n"), 64, 0)
    assert math.isfinite(ok["m"])
