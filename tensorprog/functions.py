"""The whitelist of elementwise functions a program may use, with their sympy and numpy forms.

One place per concept: the parser, the printer, the finite-width interpreter and the limit
engine all look functions up here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp


class relu(sp.Function):
    """max(0, x)."""

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_real:
            return sp.Max(0, x)
        return None

    def fdiff(self, argindex=1):
        return sp.Heaviside(self.args[0])


class sigmoid(sp.Function):
    """1 / (1 + exp(-x))."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return 1 / (1 + sp.exp(-x))
        return None

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0]) * (1 - sigmoid(self.args[0]))

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sp.exp(-x))


class gelu(sp.Function):
    """x * Phi(x), Phi the standard normal CDF (the exact, erf-based GELU)."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return x * (1 + sp.erf(x / sp.sqrt(2))) / 2
        return None

    def fdiff(self, argindex=1):
        x = self.args[0]
        return (1 + sp.erf(x / sp.sqrt(2))) / 2 + x * sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)


class silu(sp.Function):
    """x * sigmoid(x)."""

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return x / (1 + sp.exp(-x))
        return None

    def fdiff(self, argindex=1):
        x = self.args[0]
        return sigmoid(x) + x * sigmoid(x) * (1 - sigmoid(x))


def _np_erf(x):
    # scipy's vectorized erf; np.vectorize(math.erf) is ~100x slower at width 4096+
    from scipy.special import erf  # local: heavy to load; only numeric erf needs it

    return erf(x)


def _np_step(x, at_zero=0.5):
    # sympy's Heaviside carries its value at 0 as a second argument: Heaviside(x, 1/2)
    return np.heaviside(x, float(at_zero))


def _np_sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


@dataclass(frozen=True)
class FunctionSpec:
    """A whitelisted function: its name in `.tp` text, sympy head, numpy implementation."""

    name: str
    sympy: Callable
    numpy: Callable
    arity: int = 1


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in [
        FunctionSpec("exp", sp.exp, np.exp),
        FunctionSpec("log", sp.log, np.log),
        FunctionSpec("tanh", sp.tanh, np.tanh),
        FunctionSpec("sigmoid", sigmoid, _np_sigmoid),
        FunctionSpec("relu", relu, lambda x: np.maximum(x, 0.0)),
        FunctionSpec("erf", sp.erf, _np_erf),
        FunctionSpec("gelu", gelu, lambda x: 0.5 * x * (1.0 + _np_erf(x / math.sqrt(2.0)))),
        FunctionSpec("silu", silu, lambda x: x * _np_sigmoid(x)),
        FunctionSpec("sin", sp.sin, np.sin),
        FunctionSpec("cos", sp.cos, np.cos),
        FunctionSpec("abs", sp.Abs, np.abs),
        FunctionSpec("sqrt", sp.sqrt, np.sqrt),
        FunctionSpec("step", sp.Heaviside, _np_step),
    ]
}

# sympy head -> whitelisted name, for the printer and the numpy evaluator.
SYMPY_HEADS: dict[type, str] = {
    sp.exp: "exp",
    sp.log: "log",
    sp.tanh: "tanh",
    sigmoid: "sigmoid",
    relu: "relu",
    sp.erf: "erf",
    gelu: "gelu",
    silu: "silu",
    sp.sin: "sin",
    sp.cos: "cos",
    sp.Abs: "abs",
    sp.Heaviside: "step",
}


def _half_step(x):
    return sp.Heaviside(x, sp.Rational(1, 2))


#: d/dx of each whitelisted function, written with whitelisted functions only, for reverse-mode
#: training programs. ``None``: no derivative usable in a program (step's is a Dirac delta), so
#: training through it is refused. relu' and abs' take the value 1/2 resp. 0 at 0 (step(0) = 1/2).
DERIVATIVES: dict[str, Callable[[sp.Expr], sp.Expr] | None] = {
    "exp": sp.exp,
    "log": lambda x: 1 / x,
    "tanh": lambda x: 1 - sp.tanh(x) ** 2,
    "sigmoid": lambda x: sigmoid(x) * (1 - sigmoid(x)),
    "relu": _half_step,
    "erf": lambda x: 2 * sp.exp(-(x**2)) / sp.sqrt(sp.pi),
    "gelu": lambda x: (
        (1 + sp.erf(x / sp.sqrt(2))) / 2 + x * sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)
    ),
    "silu": lambda x: sigmoid(x) + x * sigmoid(x) * (1 - sigmoid(x)),
    "sin": sp.cos,
    "cos": lambda x: -sp.sin(x),
    "abs": lambda x: 2 * _half_step(x) - 1,
    "sqrt": lambda x: 1 / (2 * sp.sqrt(x)),
    "step": None,
}
