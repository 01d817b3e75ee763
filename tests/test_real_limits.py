"""The limits of a program are real numbers: a scalar that would be complex (log or sqrt of a
negative limit, a negative base to a fractional power) is refused in every mode, with the
file:line:col of its node -- never reported as the "exact" value I·π."""

from __future__ import annotations

import re

import pytest
import sympy as sp

from tensorprog import derive_limit, parse
from tensorprog.errors import ProgramError

COMPLEX = [
    ("scalar a = -1\nb = log(a)\noutput b\n", "I\\*pi"),
    ("scalar a = -1\nb = sqrt(a)\noutput b\n", "I"),
    ("scalar a = -8\nb = a^(1/3)\nc = 2 * b\noutput c\n", "\\(-1\\)\\*\\*\\(1/3\\)"),
    ("vector x ~ N(0, 1)\nm = mean(x^2)\nb = log(-m)\noutput b\n", "I\\*pi"),
]


@pytest.mark.parametrize(("text", "shown"), COMPLEX)
@pytest.mark.parametrize("mode", ["exact", "float", "auto", "numeric"])
def test_complex_scalars_are_refused_with_their_line(text, shown, mode):
    with pytest.raises(ProgramError) as err:
        derive_limit(parse(text, "c.tp"), mode=mode)
    loc = err.value.loc
    assert loc is not None and loc.file == "c.tp"
    line = text.splitlines()[loc.line - 1]
    assert line.split(" = ")[0] in ("b", "c")  # the node whose value is complex
    if mode in ("exact", "auto"):
        assert "not a real number" in str(err.value)
        assert re.search(shown, str(err.value))


def test_real_irrational_scalars_stay_exact():
    L = derive_limit(parse("scalar a = 2\nb = sqrt(a)\nc = log(a)\noutput b, c\n"))
    assert L["b"] == sp.sqrt(2) and L["c"] == sp.log(2)
    assert L.is_exact("b") and L.is_exact("c")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), sp.oo, sp.nan,
                                 sp.zoo, sp.I, 1 + sp.I])
def test_the_api_refuses_numbers_that_are_not_finite_reals(bad):
    from tensorprog import Program

    for make in (lambda p: p.scalar("a", bad), lambda p: p.vector("x", bad),
                 lambda p: p.matrix("W", bad)):
        with pytest.raises(ProgramError, match="finite"):
            make(Program())


def test_api_misuse_is_named():
    from tensorprog import classify

    with pytest.raises(TypeError, match=r"derive_limit\(\) needs a Program, got str"):
        derive_limit("vector x ~ N(0, 1)")
    with pytest.raises(TypeError, match="progress must be a callable"):
        derive_limit(parse("scalar a = 1\noutput a\n"), progress=3)
    with pytest.raises(TypeError, match="needs an ABCParametrization"):
        classify("mup")
