"""Results that display: one result protocol in every mode, values that always print, rich
display in Jupyter (``_repr_html_`` / ``_repr_latex_``) and strict JSON."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import gmpy2
import mpmath
import pytest
import sympy as sp

from tensorprog import LimitResult, derive_limit, mlp_program, parse
from tensorprog.cli._output import json_text, strict
from tensorprog.result import approx_text, rounded_text, to_float

QUADRATIC = "vector x ~ N(0, 1)\ny = x^2\nm = mean(y^2)\noutput m\n"  # E[x^4] = 3
TANH = "vector x ~ N(0, 1)\ny = tanh(x)\nm = mean(y * x)\noutput m\n"


@pytest.fixture(scope="module")
def linear10():
    """Depth-1 μP, φ = identity, 10 SGD steps with η = 1/2: exact rationals whose digits grow
    ~3x per step (the last loss has ~16 000 digits, past CPython's 4300-digit str limit)."""
    xs = [(-1) ** t for t in range(11)]
    return derive_limit(mlp_program(1, "x", xs, [1] * 11, Fraction(1, 2)))


def test_every_mode_returns_the_protocol(linear10):
    p = parse(TANH)
    for L in (linear10, derive_limit(parse(QUADRATIC), mode="float"),
              derive_limit(p, mode="numeric"), derive_limit(p, mode="auto")):
        assert isinstance(L, LimitResult)
        name = next(iter(L.outputs))
        assert isinstance(L.text(name), str) and L.as_float(name) is not None


def test_huge_values_print(linear10):
    name = "loss_10"
    v = linear10.scalars[name]
    with pytest.raises(ValueError):  # CPython's int->str limit: why L.text exists
        str(v)
    text = linear10.text(name)
    assert len(text) > 4300
    assert gmpy2.mpq(text) == gmpy2.mpq(int(v.p), int(v.q))  # the full exact value
    # 8 significant digits, independently from mpmath at 50 digits:
    with mpmath.workdps(50):
        ref = mpmath.mpf(int(v.p)) / int(v.q)
    assert float(linear10.text(name, 8)) == pytest.approx(float(ref), rel=1e-7)
    r = repr(linear10)
    assert len(r) < 1000 and "loss_10≈" in r
    str(linear10)  # the text table never raises either
    json.loads(json_text(linear10.to_dict()))


def test_notebook_display(linear10):
    """What Jupyter shows: an HTML table for exact, float and numeric limits; LaTeX only for
    exact ones (huge values as approximations MathJax can lay out)."""
    exact = derive_limit(parse(QUADRATIC))
    flt = derive_limit(parse(QUADRATIC), mode="float")
    num = derive_limit(parse(TANH), mode="numeric")
    for L, kind in ((exact, "exact"), (flt, "float64"), (num, "numeric (quadrature)")):
        h = L._repr_html_()
        assert h.startswith("<table>") and "<td>m</td>" in h and kind in h
    assert "<td>3</td>" in exact._repr_html_()  # E[x^4] = 3
    assert exact._repr_latex_() == "$$\\begin{aligned}m &= 3\\end{aligned}$$"
    assert flt._repr_latex_() is None and num._repr_latex_() is None
    # E[tanh(x) x] = E[tanh'(x)] (Stein) = 0.6057055...: the value is rounded to its error bar
    assert "±" in num._repr_html_()
    latex = linear10._repr_latex_()
    assert "\\approx" in latex and len(latex) < 5000


def test_tiny_exact_values_are_approximated_correctly():
    """erf(30) - 1 = -erfc(30) ≈ -2.5646562e-393 (mpmath), far below float64 and below the
    precision a fixed 17-digit evaluation resolves (it printed +4.2e-140)."""
    L = derive_limit(parse("a = erf(30) - 1\noutput a\n"))
    truth = -mpmath.erfc(30)
    assert L.text("a", 8) == mpmath.nstr(truth, 8).replace("e-", "e-")
    assert L.as_float("a") in (0.0, -0.0)  # the nearest double: below the subnormal range
    assert approx_text(sp.Rational(1, 10**500), 3) == "1.0e-500"
    assert to_float(sp.Rational(1, 3)) == 1 / 3


@pytest.mark.parametrize(("value", "error", "text"), [
    (0.12345, 0.00023, "0.12345 ± 0.00023"),   # two error digits when the first is 1 or 2
    (0.123456, 0.004, "0.123 ± 0.004"),        # one otherwise
    (1234.5678, 12.0, "1235 ± 12"),
    (-2.5e-7, 3e-9, "-2.5e-07 ± 3e-09"),
    (0.5, 0.0, "0.5"),
])  # fmt: skip
def test_numeric_values_are_rounded_to_their_error_bars(value, error, text):
    assert rounded_text(value, error) == text


def test_strict_json():
    obj = {"a": math.inf, "b": [math.nan, 1.0], "c": {"d": -math.inf}, "e": sp.Rational(1, 3)}
    out = json.loads(json_text(obj))
    assert out == {"a": None, "a_status": "infinite", "b": [None, 1.0],
                   "c": {"d": None, "d_status": "-infinite"}, "e": "1/3"}
    assert strict({"x": 1}) == {"x": 1}


def test_values_whose_exponent_is_itself_huge_print_as_powers_of_ten():
    """log10 exp(exp(1000)) = exp(1000)/ln 10 ≈ 8.5559e433: the decimal exponent alone would
    have 434 digits, so the approximation is written 10^(…)."""
    L = derive_limit(parse("scalar a = 1000\nb = exp(exp(a))\nc = -1/b\noutput b, c\n"))
    with mpmath.workdps(30):
        lg = mpmath.exp(1000) / mpmath.log(10)
    assert L.text("b") == "exp(exp(1000))"
    assert approx_text(L["b"], 6) == f"10^({mpmath.nstr(lg, 6)})"
    assert approx_text(L["c"], 6) == f"-10^({mpmath.nstr(-lg, 6)})"
    assert approx_text(sp.Integer(10) ** 5000, 3) == "1.0e+5000"  # ordinary exponents stay


def test_an_unknown_scalar_is_a_clean_key_error(linear10):
    """``limit["typo"]`` names the scalars it has; it is still a KeyError for mapping code."""
    from tensorprog import UnknownNameError

    with pytest.raises(UnknownNameError, match="'typo' is not a scalar") as err:
        linear10["typo"]
    assert isinstance(err.value, KeyError)
    assert str(err.value).startswith("program error: 'typo'")  # not the quoted KeyError text
