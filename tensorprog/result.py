"""One result protocol for every mode of ``derive_limit``, and numbers that always print.

:class:`LimitResult` is the base of :class:`tensorprog.polynomial.Limit` (exact and float modes) and
:class:`tensorprog.numeric.NumericLimit` (numeric mode): the same ``scalars`` / ``outputs`` /
``is_exact`` / ``error`` / ``text`` / ``to_dict`` and the same display (a text table, an HTML
table in Jupyter, LaTeX for exact values).

Printing never raises: ``str()`` of a sympy Rational with more than 4300 digits hits CPython's
int→str limit, so use ``L.text(name)`` (exact text of any length) or ``L.text(name, digits=8)``
(a short decimal approximation, correct even for values far outside float64's range).
"""

from __future__ import annotations

import html
import math
import re
from abc import ABC, abstractmethod
from typing import Any

import mpmath
import sympy as sp
from sympy.core.evalf import PrecisionExhausted

from .backends.domains import int_text
from .errors import UnknownNameError
from .lang.printer import expr_to_tp

#: Exact values longer than this are shown abbreviated in tables and reprs.
SHORT = 60


# ---------------------------------------------------------------------------- numbers
def exact_text(v: Any) -> str:
    """Exact text of a number of any size (``p/q`` for rationals); never raises."""
    if isinstance(v, sp.Rational):
        if v.q == 1:
            return int_text(int(v.p))
        return f"{int_text(int(v.p))}/{int_text(int(v.q))}"
    try:
        return expr_to_tp(v)
    except Exception:  # outside the language: sympy's own text
        pass
    try:
        return str(v)
    except ValueError:  # a huge integer inside an expression
        return f"<{type(v).__name__} of {_digits(v):,} digits>"


def _digits(v: Any) -> int:
    ints = [a for a in sp.preorder_traversal(v) if isinstance(a, sp.Rational)]
    return sum(int(abs(a.p)).bit_length() + int(a.q).bit_length() for a in ints) * 30103 // 100000


def _mp(v: Any, digits: int) -> mpmath.mpf | None:
    """``v`` as an mpmath number correct to ``digits`` significant digits (None: not a real
    number, or indistinguishable from 0 at 10⁴ digits of working precision)."""
    if isinstance(v, (int, float)):
        return mpmath.mpf(v)
    if isinstance(v, sp.Rational):
        with mpmath.workdps(digits + 10):
            return mpmath.mpf(int(v.p)) / int(v.q)
    if isinstance(v, sp.Float):
        return mpmath.mpf(v._mpf_) if hasattr(v, "_mpf_") else mpmath.mpf(float(v))
    if not isinstance(v, sp.Expr) or not v.is_number:
        return None
    # Adaptive precision: sympy's evalf raises (strict) until the cancellation in e.g.
    # erf(30) - 1 ≈ -2.56e-393 is resolved; a fixed 17-digit evaluation would print noise.
    for maxn in (100, 1000, 10000):
        try:
            r = v.evalf(digits + 2, maxn=maxn, strict=True)
        except PrecisionExhausted:
            continue
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        if not r.is_real or not isinstance(r, sp.Float):
            return None
        return mpmath.mpf(r._mpf_)
    return None


def to_float(v: Any) -> float | None:
    """The float nearest to ``v`` (tiny exact values included), or None when it is not a finite
    real number representable as a double (see :func:`approx_text` for any magnitude)."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    x = _mp(v, 17)
    if x is None:
        return None
    try:
        f = float(x)
    except (OverflowError, ValueError):
        return None
    return f if math.isfinite(f) else None


def approx_text(v: Any, digits: int = 10) -> str:
    """A decimal approximation of ``v`` with ``digits`` significant digits, at any magnitude
    (``1.234e+5000``); ``"n/a"`` when ``v`` is not a real number."""
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    x = _mp(v, digits)
    if x is None:
        return "n/a"
    if mpmath.isinf(x) or mpmath.isnan(x):
        return str(x)
    if x == 0:
        return "0"
    lg = mpmath.log10(abs(x))
    if abs(lg) >= 1e15:  # the exponent itself is too long to print (exp(exp(1000)))
        return f"{'-' if x < 0 else ''}10^({mpmath.nstr(lg, digits)})"
    e = int(mpmath.floor(lg))
    if -5 <= e < 16:
        return f"{float(x):.{digits}g}"
    s = mpmath.nstr(x, digits, min_fixed=1, max_fixed=0)  # scientific
    m = re.fullmatch(r"(-?[0-9.]+)e([+-]?)0*([0-9]+)", s)
    if m is None:
        return s
    return f"{m.group(1)}e{m.group(2) or '+'}{m.group(3)}"


def rounded_text(value: float, error: float | None) -> str:
    """``value ± error`` with the value rounded to the error's leading digits
    (``0.1235 ± 0.0002``); the full double when there is no error estimate."""
    if not math.isfinite(value):
        return str(value)
    if error is None or not math.isfinite(error) or error <= 0:
        return f"{value:.15g}" if error is None or error == 0 else f"{value:.6g} ± {error}"
    e = math.floor(math.log10(error))
    lead = int(error / 10**e)
    keep = 2 if lead < 3 else 1  # "± 0.0012" keeps two digits, "± 0.004" one
    last = e - keep + 1  # decimal exponent of the last kept digit
    mag = math.floor(math.log10(abs(value))) if value else last
    sig = max(1, mag - last + 1)
    return f"{value:.{sig}g} ± {error:.{keep}g}"


def abbreviate(text: str, limit: int = SHORT) -> str:
    """Shorten long exact text for tables (the full text: ``L.text(name)`` / ``--json``)."""
    if limit <= 0 or len(text) <= limit:
        return text
    keep = max(limit // 2 - 8, 4)
    return f"{text[:keep]}...{text[-keep:]} ({len(text)} chars)"


# ---------------------------------------------------------------------------- LaTeX
GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
    "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega",
}  # fmt: skip


def latex_name(name: str) -> str:
    """f0 -> f_{0}, chi0 -> \\chi_{0}, nV1 -> \\mathrm{nV}_{1}, x_hat -> x_{hat}."""
    m = re.fullmatch(r"([A-Za-z]+?)_?([0-9]+|_[A-Za-z0-9_]+)?", name)
    if m is None:
        base, sub = name, None
    else:
        base, sub = m.group(1), m.group(2)
    if sub is not None and sub.startswith("_"):
        sub = sub[1:]
    if base in GREEK:
        head = "\\" + base
    elif len(base) == 1:
        head = base
    else:
        head = "\\mathrm{" + base.replace("_", "\\_") + "}"
    return head if not sub else f"{head}_{{{sub.replace('_', chr(92) + '_')}}}"


def latex_value(v: Any) -> str:
    """LaTeX of an exact value; rationals as \\frac with digits of any length."""
    if isinstance(v, sp.Rational):
        p, q = int(v.p), int(v.q)
        sign = "-" if p < 0 else ""
        ps, qs = int_text(abs(p)), int_text(q)
        return f"{sign}{ps}" if q == 1 else f"{sign}\\frac{{{ps}}}{{{qs}}}"
    if isinstance(v, sp.Float):
        return approx_text(v, 15)
    try:
        return sp.latex(v)
    except (TypeError, ValueError):
        return "\\text{" + exact_text(v) + "}"


# ---------------------------------------------------------------------------- the protocol
class LimitResult(ABC):
    """What ``derive_limit`` returns in every mode (exact, float, numeric, auto).

    * ``scalars`` / ``outputs``: name → sympy number (Rational when exact, Float otherwise);
    * ``mode``: the mode that ran; ``seconds``; ``program``;
    * ``is_exact(name)``; ``error(name)``: 0 for exact values, the error estimate of numeric
      ones, None for float64 results (rounding error only);
    * ``text(name, digits=None)``: printable text of any value (never raises);
      ``as_float(name)``: the nearest double (None outside float64's range);
    * ``to_dict()``: strict-JSON-ready summary; ``table()``: aligned text;
      ``_repr_html_`` / ``_repr_latex_``: rich display in Jupyter.
    """

    program: Any
    mode: str
    scalars: dict[str, sp.Expr]
    seconds: float

    # -- values ------------------------------------------------------------------
    @property
    def outputs(self) -> dict[str, sp.Expr]:
        """The program's output scalars, in order."""
        return {n: self.scalars[n] for n in self.program.outputs if n in self.scalars}

    def __getitem__(self, name: str) -> sp.Expr:
        return self._known(name)

    def _known(self, name: str) -> sp.Expr:
        if name not in self.scalars:
            more = ", …" if len(self.scalars) > 20 else ""
            raise UnknownNameError(f"'{name}' is not a scalar of this program",
                                   hint=f"scalars: {', '.join(list(self.scalars)[:20])}{more}")
        return self.scalars[name]

    @abstractmethod
    def is_exact(self, name: str) -> bool:
        """True when the scalar's limit is exact (no floating point entered it)."""

    def is_rational(self, name: str) -> bool:
        return bool(self._known(name).is_Rational) and self.is_exact(name)

    def error(self, name: str) -> float | None:
        """Error estimate: 0 for exact values, None when unknown (float64 rounding only)."""
        self._known(name)
        return 0.0 if self.is_exact(name) else None

    @abstractmethod
    def Z(self, name: str) -> sp.Expr:  # noqa: N802 - the paper's name
        """Z of a vector of the program."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (strict JSON: no NaN or Infinity)."""

    @property
    def kind(self) -> str:
        """How the numbers were obtained, for display ("exact", "float64", "numeric (mc)")."""
        return self.mode

    def status(self, name: str) -> str:
        """"ok", or why the value is not a finite number (see NumericLimit)."""
        return "ok"

    def as_float(self, name: str) -> float | None:
        """The double nearest to the limit (tiny exact values included; None if out of range)."""
        return to_float(self._known(name))

    def text(self, name: str, digits: int | None = None) -> str:
        """The value of scalar ``name`` as text; never raises.

        ``digits=None``: exact text of any length for exact values (``p/q``), the value rounded
        to its error bar for numeric ones (``0.1235 ± 0.0002``), the double for float64 ones.
        ``digits=k``: a k-significant-digit decimal approximation at any magnitude.
        """
        text = self._text(name, digits)
        status = self.status(name)
        return text if status == "ok" else f"{text} [{status}]"

    def _text(self, name: str, digits: int | None) -> str:
        v = self._known(name)
        err = self.error(name)
        if self.is_exact(name):
            return exact_text(v) if digits is None else approx_text(v, digits)
        if err is not None and err > 0:
            f = to_float(v)
            if f is None:
                return approx_text(v, digits or 6)
            return rounded_text(f, err) if digits is None else \
                f"{approx_text(v, digits)} ± {err:.2g}"
        return approx_text(v, digits or 15)

    def format(self, name: str, digits: int | None = None) -> str:
        """Alias of :meth:`text`."""
        return self.text(name, digits)

    # -- display ------------------------------------------------------------------
    def _rows(self, names: list[str] | None = None) -> list[tuple[str, str, str, str]]:
        if names is None:
            names = list(self.outputs) or list(self.scalars)
        rows = []
        for n in names:
            exact = self.is_exact(n)
            value = abbreviate(self.text(n)) if exact else self.text(n)
            approx = self.text(n, 10) if exact and not self.scalars[n].is_Integer else ""
            rows.append((n, value, approx, "exact" if exact else self.kind))
        return rows

    def _title(self) -> str:
        name = getattr(self.program, "name", "") or "program"
        return f"{type(self).__name__} of {name} ({self.kind}, {self.seconds:.2f} s)"

    def table(self, names: list[str] | None = None) -> str:
        """An aligned text table of the outputs (or of ``names``)."""
        rows = self._rows(names)
        head = ("name", "value", "≈", "kind")
        widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(head)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                 for r in [head, tuple("-" * w for w in widths), *rows]]  # fmt: skip
        return self._title() + "\n" + "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        def short(n: str) -> str:
            t = self.text(n)
            if self.is_exact(n) and len(t) > 40:
                return f"{n}≈{self.text(n, 8)}"
            return f"{n}={t}"

        return f"{type(self).__name__}({self.kind}: {', '.join(map(short, self.outputs))})"

    def _repr_html_(self) -> str:
        """An HTML table for Jupyter."""
        e = html.escape
        body = "".join(
            "<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in self._rows()
        )
        return (f"<table><caption>{e(self._title())}</caption><thead><tr><th>name</th>"
                f"<th>value</th><th>≈</th><th>kind</th></tr></thead><tbody>{body}</tbody>"
                "</table>")  # fmt: skip

    def _repr_latex_(self) -> str | None:
        """LaTeX for exact results (None otherwise: Jupyter then shows the HTML table)."""
        names = list(self.outputs) or list(self.scalars)
        if not names or not all(self.is_exact(n) for n in names):
            return None
        lines = []
        for n in names:
            v = self.scalars[n]
            text = latex_value(v)
            if len(text) > 4 * SHORT:  # MathJax cannot lay out a million digits
                mant, _, exp = approx_text(v, 10).partition("e")
                text = "\\approx " + mant + (" \\times 10^{" + exp.lstrip("+") + "}" if exp else "")
            lines.append(f"{latex_name(n)} &= {text}")
        return "$$\\begin{aligned}" + " \\\\ ".join(lines) + "\\end{aligned}$$"
