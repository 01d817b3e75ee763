"""Numeric mode on expectations that do not exist: refused with the reason, never reported as
a finite number with an error bar. Closed forms used below (Z ~ N(0, 1)):

* E|Z|^-p = ∞ for p ≥ 1 (the density is 1/√(2π) > 0 at 0), so E[1/Z] is undefined and
  E[1/Z²] = +∞; E|Z|^{-1/2} = 2^{-1/4} Γ(1/4)/√π ≈ 1.7200 is finite;
* E[exp(c Z²)] = 1/√(1 − 2c) for c < 1/2 and +∞ for c ≥ 1/2; its variance is infinite for
  c ≥ 1/4;
* E[2^Z] = exp((ln 2)²/2) ≈ 1.27155 (moment generating function).
"""

from __future__ import annotations

import math

import pytest

from tensorprog import NonPolynomialError, ProgramError, derive_limit, parse


def _moment(phi: str, var: str = "1"):
    return parse(f"vector x ~ N(0, {var})\ny = {phi}\nm = mean(y)\noutput m\n")


SINGULAR = ["1/x", "1/x^2", "x^(-3)", "3/(2*x)", "1/(x - 1/2)", "1/(x*(x + 1))",
            "relu(x)/x^2", "exp(x)/x"]  # fmt: skip
HEAVY = ["exp(x^2)", "exp(x^2/2)", "exp(2*x^2)*sigmoid(x)", "exp(x^2 + x)", "x^2*exp(3*x^2/5)"]
FINITE = [
    ("1/(1 + x^2)", None),
    ("abs(x)^(-1/2)", 2**-0.25 * math.gamma(0.25) / math.sqrt(math.pi)),
    ("exp(x^2/4)", math.sqrt(2)),
    ("relu(x)/x", 0.5),
    ("tanh(1/x)", 0.0),
    ("2^x", math.exp(math.log(2) ** 2 / 2)),
    ("x^40", float(math.prod(range(1, 40, 2)))),  # 39!!
]


@pytest.mark.parametrize("phi", SINGULAR)
@pytest.mark.parametrize("method", ["mc", "auto"])
def test_non_integrable_singularities(phi, method):
    with pytest.raises(ProgramError, match="does not exist") as e:
        derive_limit(_moment(phi), mode="numeric", method=method, particles=2**16)
    assert e.value.loc is not None and e.value.node == "m"


@pytest.mark.parametrize("phi", HEAVY)
@pytest.mark.parametrize("var", ["1", "1/4"])
def test_heavy_tails(phi, var):
    p = _moment(phi, var)
    if var == "1/4" and phi in ("exp(x^2)", "exp(x^2/2)", "exp(x^2 + x)", "x^2*exp(3*x^2/5)"):
        # c Var < 1/2 here: finite, and must NOT be refused
        assert math.isfinite(float(derive_limit(p, mode="numeric")["m"]))
        return
    with pytest.raises(ProgramError, match="infinite"):
        derive_limit(p, mode="numeric")


@pytest.mark.parametrize(("phi", "truth"), FINITE)
def test_finite_expectations_are_not_refused(phi, truth):
    L = derive_limit(_moment(phi), mode="numeric")
    if truth is not None:
        err = max(4 * L.error("m"), 1e-9 * abs(truth))
        assert abs(float(L["m"]) - truth) <= err, (phi, float(L["m"]), L.error("m"))


def test_infinite_variance_is_flagged():
    L = derive_limit(_moment("exp(0.3*x^2)"), mode="numeric")  # mean 1/√0.4, variance ∞
    assert "heavy tail" in L.status("m") and "heavy tail" in L.text("m")
    assert L.to_dict()["outputs"]["m"]["status"].startswith("heavy tail")


def test_auto_falls_back_to_numeric_for_vector_exponents():
    p = _moment("2^x")
    with pytest.raises(NonPolynomialError, match="vector-dependent exponent"):
        derive_limit(p)
    L = derive_limit(p, mode="auto")
    assert L.mode == "numeric"
    assert abs(float(L["m"]) - math.exp(math.log(2) ** 2 / 2)) < 4 * L.error("m") + 1e-9
