"""The limit interpreter: the Z-calculus of TP4 Definition 7.3, applied node by node.

Rules (TP4 (Yang & Hu, arXiv:2011.14522) §7, Definition 7.3; docs/references.md):

* ZInit    -- initial vectors are atoms of the "init" Gaussian family (Setup 7.2).
* ZNonlin  -- Z^{φ(x..;θ..)} = φ(Z^x..; θ̊..).
* ZMoment  -- θ̊ = E φ(Z^x..; θ̊..).
* ZMatMul  -- Z^{W̄x} = Ẑ^{W̄x} + Ż^{W̄x}, with
  * ZHat:  Ẑ^{W̄x} joins the family of W̄ (W and Wᵀ are different families) with
    Cov(Ẑ^{W̄x}, Ẑ^{W̄y}) = σ_W² E[Z^x Z^y];
  * ZDot:  Ż^{Wx} = σ_W² Σ_i Z^{y_i} E[∂Z^x/∂Ẑ^{Wᵀy_i}] (Eq. 31), computed either from the
    symbolic derivative of the unwound Z^x ("derivative"), or derivative-free by Stein's lemma:
    solve G c = b with b_j = E[Ẑ^{Wᵀy_j} Z^x] and G the Wᵀ family covariance ("stein").

Every Z is held as a polynomial whose generators are either the independent LDLᵀ innovations of
the families (expectation route "innovations") or the atoms themselves ("isserlis"). The
polynomial algebra is a pluggable backend (tensorprog.backends): python-flint exact rationals
(default), sympy rings (the reference "plain" backend, and the only one for irrational
constants), float64 polynomials (``mode="float"``), or Gaussian linear algebra on affine forms
when every Z is linear in the atoms. A degree pre-pass (backends.plan) picks the backend and
lets the budget (tensorprog.budget) refuse oversized derivations up front.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy as sp
from sympy.polys.domains import EX, QQ, RR
from sympy.polys.polyerrors import CoercionFailed

from .backends import make_backend
from .backends.domains import NotInDomain
from .backends.plan import DegreePlan, degree_plan
from .budget import Budget, Meter, as_budget, deadline
from .errors import NonPolynomialError, ProgramError, TensorProgError
from .expr import Algebra, fold
from .functions import SYMPY_HEADS
from .gaussian import GaussianFamily, Isserlis
from .ir import (
    InitMatrix,
    InitScalar,
    InitVector,
    MatMul,
    Moment,
    Nonlin,
    Program,
    ScalarOp,
    check_init_covariance,
    dispatch,
    family_name,
    fresh_name,
    node_table,
    sym,
)
from .numeric import derive_numeric
from .result import LimitResult, exact_text

ZDOT_ROUTES = ("stein", "derivative")
EXPECTATION_ROUTES = ("innovations", "isserlis")
MODES = ("exact", "float", "numeric", "auto")
#: Backends accepted by ``derive_limit(backend=...)``; "auto" picks by mode and program shape.
BACKENDS = ("auto", "flint", "flint-sparse", "flint-kronecker", "plain", "expand", "linear",
            "float")

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class AtomInfo:
    """One Gaussian atom: Z^{h} of an initial vector h, or Ẑ^{W̄y} of a MatMul node."""

    symbol: sp.Symbol
    index: int
    family: str
    node: str
    vector: str | None = None  # the y of Ẑ^{W̄y}


@dataclass(frozen=True)
class FamilyInfo:
    """A jointly Gaussian family: its atoms (in order) and exact covariance matrix."""

    name: str
    atoms: tuple[str, ...]
    covariance: sp.Matrix
    matrix: str | None = None
    transpose: bool = False
    sigma2: sp.Expr | None = None


class _Widen(Exception):
    def __init__(self, domain: Any) -> None:
        self.domain = domain


class _NeedSympy(Exception):
    """A scalar expression the backend's scalar domain cannot evaluate directly."""


def _domain_name(K: Any) -> str:
    if K is QQ or getattr(K, "is_QQ", False):
        return "QQ"
    if K == RR:
        return "RR"
    if getattr(K, "name", "") == "float64":
        return "float64"
    return "EX"


class _PolyAlgebra(Algebra):
    """Fold program/Z expressions into polynomials of the engine's backend."""

    def __init__(self, eng: _Engine, leaf: Callable[[sp.Symbol], Any], node: str, is_var) -> None:
        self.eng = eng
        self.leaf = leaf
        self.node = node
        self.is_var = is_var

    def is_leafish(self, e: sp.Expr) -> bool:
        return not any(self.is_var(s) for s in e.free_symbols)

    def symbol(self, s: sp.Symbol) -> Any:
        return self.leaf(s)

    def constant(self, c: sp.Expr) -> Any:
        return self.eng.B.const(self.eng.scalar_value(c, self.node))

    def mul(self, a: Any, b: Any) -> Any:
        return self.eng.B.mul(a, b)

    def power(self, base: Any, exponent: sp.Expr, node: sp.Expr) -> Any:
        if exponent.is_Integer and exponent >= 0:
            self.eng.check_power(base, int(exponent), self.node)
            return base ** int(exponent)
        if not self.is_leafish(exponent):
            self._refuse(node, "a power with a vector-dependent exponent")
        self._refuse(node, f"the power {exponent} of a vector-dependent quantity")

    def function(self, name: str, args: list[Any], node: sp.Expr) -> Any:
        self._refuse(node, f"the function {name}() on a vector-dependent argument")

    def other(self, node: sp.Expr, args: list[Any]) -> Any:
        self._refuse(node, f"{node.func.__name__} on a vector-dependent argument")

    def _refuse(self, e: sp.Expr, what: str) -> None:
        prog_node = self.eng.program.node(self.node) if self.node in self.eng.program else None
        raise NonPolynomialError(
            f"'{self.node}' applies {what} ({e}); exact limits need polynomial nonlinearities",
            loc=getattr(prog_node, "loc", None),
            node=self.node,
            hint="use a polynomial activation (e.g. x^2, x^3 - x) in exact mode; "
            "non-polynomial functions need a numeric expectation",
        )


class _ScalarAlgebra(Algebra):
    """Evaluate a scalar-only expression directly in the backend's scalar domain (fast path
    for fmpq / float; anything beyond + × and integer powers goes through sympy)."""

    def __init__(self, eng: _Engine) -> None:
        self.eng = eng

    def is_leafish(self, e: sp.Expr) -> bool:
        return e.is_Number

    def symbol(self, s: sp.Symbol) -> Any:
        v = self.eng.kvals.get(s.name)
        if v is None:
            raise _NeedSympy
        return v

    def constant(self, c: sp.Expr) -> Any:
        try:
            return self.eng.K.from_sympy(c)
        except NotInDomain:
            raise _NeedSympy from None

    def power(self, base: Any, exponent: sp.Expr, node: sp.Expr) -> Any:
        if exponent.is_Integer:
            return base ** int(exponent)
        raise _NeedSympy

    def function(self, name: str, args: list[Any], node: sp.Expr) -> Any:
        raise _NeedSympy

    def other(self, node: sp.Expr, args: list[Any]) -> Any:
        raise _NeedSympy


class _Evaluator:
    """Bottom-up evaluation of a program expression for the fast backends: scalar parts in the
    backend's domain (fmpq / float), vector parts as backend polynomials. One pass, no repeated
    free-symbol scans (large programs have thousands of nodes); ZNonlin applied."""

    def __init__(self, eng: _Engine, node: str, leaf: Callable[[sp.Symbol], Any], is_var) -> None:
        self.eng = eng
        self.node = node
        self.leaf = leaf
        self.is_var = is_var
        self.memo: dict[sp.Expr, tuple[bool, Any]] = {}
        self._refuser = _PolyAlgebra(eng, leaf, node, is_var)

    def poly(self, e: sp.Expr) -> Any:
        isv, v = self.ev(e)
        return v if isv else self.eng.B.const(v)

    def ev(self, e: sp.Expr) -> tuple[bool, Any]:
        hit = self.memo.get(e)
        if hit is not None:
            return hit
        eng = self.eng
        B = eng.B
        if e.is_Symbol:
            if self.is_var(e):
                out = (True, self.leaf(e))
            else:
                v = eng.kvals.get(e.name)
                out = (False, v if v is not None else eng.scalar_value(e, self.node))
        elif e.is_Number:
            out = (False, eng.scalar_value(e, self.node))
        elif e.is_Add or e.is_Mul:
            vals = [self.ev(a) for a in e.args]
            vecs = [v for isv, v in vals if isv]
            consts = [v for isv, v in vals if not isv]
            if e.is_Add:
                c = eng.K.zero
                for v in consts:
                    c = c + v
                if not vecs:
                    out = (False, c)
                else:
                    acc = vecs[0]
                    for v in vecs[1:]:
                        acc = acc + v
                    out = (True, acc + B.const(c) if c else acc)
            else:
                c = eng.K.one
                for v in consts:
                    c = c * v
                if not vecs:
                    out = (False, c)
                else:
                    acc = vecs[0]
                    for v in vecs[1:]:
                        acc = B.mul(acc, v)
                    out = (True, B.scale(acc, c) if c != eng.K.one else acc)
        elif e.is_Pow:
            isv, b = self.ev(e.base)
            if not e.exp.is_number and any(self.is_var(s) for s in e.exp.free_symbols):
                # a vector in the exponent (2^x): not a polynomial in any backend
                self._refuser._refuse(e, "a power with a vector-dependent exponent")
            if not isv:
                out = (False, eng.scalar_value(e, self.node))
            elif e.exp.is_Integer and e.exp >= 0:
                eng.check_power(b, int(e.exp), self.node)
                out = (True, b ** int(e.exp))
            else:
                self._refuser.power(b, e.exp, e)
        else:
            vals = [self.ev(a) for a in e.args]
            if any(isv for isv, _ in vals):
                if e.func in SYMPY_HEADS:
                    self._refuser.function(SYMPY_HEADS[e.func], [], e)
                self._refuser.other(e, [])
            out = (False, eng.scalar_value(e, self.node))
        self.memo[e] = out
        return out


class _Engine:
    def __init__(
        self,
        program: Program,
        backend: Any,
        zdot: str,
        expectation: str,
        progress: Progress | None,
        meter: Meter | None = None,
    ) -> None:
        self.program = program
        self.B = backend
        self.K = backend.K
        self.zdot = zdot
        self.expectation = expectation
        self.progress = progress
        self.meter = meter
        self.values: dict[str, sp.Expr] = {}
        self.kvals: dict[str, Any] = {}  # scalar values in the backend's domain
        self.scalar_subs: dict[sp.Symbol, sp.Expr] = {}
        self.zrep: dict[str, Any] = {}  # vector name -> polynomial in the chosen basis
        self.zdef: dict[str, tuple] = {}  # vector name -> how Z was built (for symbolic Z)
        self.atoms: list[AtomInfo] = []
        self.atom_of: dict[str, AtomInfo] = {}  # atom symbol name -> info
        self.families: dict[str, Any] = {}
        self.family_meta: dict[str, tuple[str | None, bool, sp.Expr | None]] = {}
        self.atom_family: dict[int, Any] = {}
        self.atom_vector: dict[int, str | None] = {}
        self.isserlis = Isserlis(self.K, self._atom_cov)
        self._zexpr: dict[str, sp.Expr] = {}
        self.matrix_var: dict[str, sp.Expr] = {}
        # The reference backend keeps the original evaluation order exactly.
        self.fast = backend.name != "plain"
        # Generators are the atoms themselves (Isserlis route, or the linear backend, which
        # keeps the atoms' covariance and never factors it).
        self.atom_basis = expectation == "isserlis" or getattr(backend, "atom_basis", False)
        self._scalar_alg = _ScalarAlgebra(self)

    def check_power(self, base: Any, n: int, node: str) -> None:
        """Refuse ``base**n`` before it is formed when its estimated size does not fit the
        budget: every backend raises powers in C or in one sympy call, which no check between
        nodes can interrupt (x^100000 would abort inside GMP when memory runs out)."""
        meter = self.meter
        if meter is None or n < 2 or (self.B.name not in ("plain", "expand") and n < 8):
            return  # small powers in the fast backends go through their guarded products
        st = self.B.stats(base)
        if st.terms == 0:
            return
        nv = getattr(self.B, "n", 1)
        terms = min(math.comb(st.terms + n - 1, n) if st.terms > 1 else 1,
                    math.comb(nv + n * st.degree, nv))
        # (digits counts numerator and denominator: 2 for the coefficient 1 in most backends)
        digits = n * max(st.digits - 2, 0) + n * math.log10(st.terms) + 1
        bits = int(digits * 3.33) + 1 if self.B.exact else 64
        meter.node = node
        meter.check_product(min(terms, 1 << 62), bits, 0, bits if self.B.exact else 0)
        if meter.budget.max_terms is not None and st.terms > 1 and terms > meter.budget.max_terms:
            meter.check_size(terms, 0, 0, f"a power ^{n} (estimated)")

    # ---------------------------------------------------------------- domain
    def to_domain(self, c: sp.Expr, node: str) -> Any:
        if not c.is_number:
            raise ProgramError(f"'{node}': could not reduce {c} to a number", node=node)
        if c.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
            raise ProgramError(f"'{node}': a scalar is infinite or undefined ({c})", node=node)
        K = self.K
        if K is QQ:
            if c.has(sp.Float):
                raise _Widen(RR)
            try:
                return QQ.from_sympy(c)
            except CoercionFailed:
                raise _Widen(EX) from None
        if K is RR or K is EX:
            return K.from_sympy(c)
        try:
            return K.from_sympy(c)
        except NotInDomain as e:
            if not K.exact:
                raise ProgramError(
                    f"'{node}': the scalar {c} is not a real number", node=node
                ) from None
            raise _Widen(RR if e.widen_to == "RR" else EX) from None

    def scalar_value(self, c: sp.Expr, node: str) -> Any:
        """A scalar-only expression (over scalar node symbols) as a domain element."""
        if self.fast:
            try:
                return fold(c, self._scalar_alg)
            except _NeedSympy:
                pass
            except ZeroDivisionError:
                raise ProgramError(
                    f"'{node}': a scalar is infinite or undefined (division by zero in {c})",
                    node=node,
                ) from None
        return self.to_domain(c.xreplace(self.scalar_subs), node)

    def expect(self, p: Any) -> Any:
        if self.expectation == "innovations":
            return self.B.expect(p)
        return self._isserlis(p)

    def inner(self, p: Any, q: Any) -> Any:
        """E[p q] (the backend may avoid forming p q)."""
        if self.expectation == "innovations":
            return self.B.inner(p, q)
        return self._isserlis(self.B.mul(p, q))

    def _isserlis(self, p: Any) -> Any:
        total = self.K.zero
        for monom, coeff in self.B.terms(p):
            m = self.isserlis.monomial(tuple(monom))
            if m:
                total += coeff * m
        return total

    def _atom_cov(self, i: int, j: int) -> Any:
        fam = self.atom_family[i]
        if self.atom_family[j] is not fam:
            return self.K.zero
        return fam.cov[(i, j)]

    def atom_rep(self, index: int) -> Any:
        """Atom ``index`` as a polynomial in the basis in use."""
        if self.atom_basis:
            return self.B.gen(index)
        return self.linear_rep(index)

    def linear_rep(self, index: int) -> Any:
        """Atom ``index`` as a linear form in the innovations."""
        return self.B.linear(self.atom_family[index].linear_form(index))

    def is_vector_sym(self, s: sp.Symbol) -> bool:
        return s.name in self.zrep

    def _alg(self, node: str) -> _PolyAlgebra:
        return _PolyAlgebra(self, lambda s: self.zrep[s.name], node, self.is_vector_sym)

    def to_poly(self, expr: sp.Expr, node: str) -> Any:
        """A program expression (over node symbols) as a polynomial: ZNonlin applied."""
        if self.fast:
            return self._evaluator(node).poly(expr)
        return fold(expr, self._alg(node))

    def _evaluator(self, node: str) -> _Evaluator:
        return _Evaluator(self, node, lambda s: self.zrep[s.name], self.is_vector_sym)

    def atoms_to_poly(self, expr: sp.Expr, node: str) -> Any:
        """An expression over atom symbols (a symbolic Z) as a polynomial."""
        alg = _PolyAlgebra(
            self, lambda s: self.atom_rep(self.atom_of[s.name].index), node,
            lambda s: s.name in self.atom_of,
        )
        return fold(expr, alg)

    # ---------------------------------------------------------------- atoms
    def new_atom(self, family: str, node: str, label: str, vector: str | None) -> AtomInfo:
        name = fresh_name(label, self.atom_of, start=2, sep="#", bare=True)
        info = AtomInfo(sp.Symbol(name, real=True), len(self.atoms), family, node, vector)
        self.atoms.append(info)
        self.atom_of[name] = info
        return info

    def family(self, name: str, matrix: str | None, transpose: bool, s2) -> Any:
        fam = self.families.get(name)
        if fam is None:
            make = getattr(self.B, "new_family", None)
            fam = make(name) if make is not None else GaussianFamily(name, self.K)
            self.families[name] = fam
            self.family_meta[name] = (matrix, transpose, s2)
        return fam

    # ---------------------------------------------------------------- rules
    def run(self) -> None:
        nodes = self.program.nodes
        total = len(nodes)
        meter = self.meter
        self._init_vectors([n for n in nodes if isinstance(n, InitVector)])
        for i, node in enumerate(nodes):
            if self.progress is not None:
                self.progress(i, total, node.name)
            if meter is not None:
                meter.node = node.name
                meter.check_time()
                meter.check_memory()
            dispatch(_RULES, node, self)
        if self.progress is not None:
            self.progress(total, total, "")

    # One method per node kind (dispatched by the _RULES table below the class).
    def _rule_init_scalar(self, node: InitScalar) -> None:
        self._set_scalar(node.name, node.value, self.to_domain(node.value, node.name))

    def _rule_init_vector(self, node: InitVector) -> None:
        pass  # ZInit: the initial vectors' family was built before the first node

    def _rule_init_matrix(self, node: InitMatrix) -> None:
        self.matrix_var[node.name] = node.var

    def _rule_matmul(self, node: MatMul) -> None:
        self._zmatmul(node)
        self._check(node.name)

    def _rule_nonlin(self, node: Nonlin) -> None:
        # ZNonlin: substitute the Z's of the arguments and the limits of the scalars.
        self.zrep[node.name] = self.to_poly(node.expr, node.name)
        self.zdef[node.name] = ("nonlin", node.expr)
        self._check(node.name)

    def _rule_moment(self, node: Moment) -> None:
        # ZMoment: the limit of a coordinate average is the expectation of its Z.
        value = self._moment(node.expr, node.name)
        self._set_scalar(node.name, None, value)

    def _check(self, name: str) -> None:
        if self.meter is not None:
            st = self.B.stats(self.zrep[name])
            self.meter.check_size(st.terms, st.digits, st.degree, f"Z^{{{name}}}")

    def _scalar_op(self, node: ScalarOp) -> None:
        if self.fast:
            try:
                kv = fold(node.expr, self._scalar_alg)
            except _NeedSympy:
                kv = None
            except ZeroDivisionError:
                raise ProgramError(
                    f"'{node.name}': a scalar is infinite or undefined (division by zero)",
                    node=node.name,
                ) from None
            if kv is not None:
                self._set_scalar(node.name, None, kv)
                return
        value = node.expr.xreplace(self.scalar_subs)
        kv = self.to_domain(value, node.name)  # checks finiteness; widens the domain if needed
        self._set_scalar(node.name, value, kv)

    def _moment(self, expr: sp.Expr, node: str) -> Any:
        if not self.fast:
            return self.expect(self.to_poly(expr, node))
        return self._E(expr, self._evaluator(node))

    def _E(self, e: sp.Expr, ev: _Evaluator) -> Any:
        """E[e] using linearity: sums split, and a product of two vector-dependent factors (or
        an even power) becomes an inner product E[p q] computed without forming p q."""
        if e.is_Add:
            total = self.K.zero
            for a in e.args:
                total = total + self._E(a, ev)
            return total
        if e.is_Mul:
            c = self.K.one
            vecs = []
            for a in e.args:
                isv, v = ev.ev(a) if not (a.is_Add or a.is_Pow) else (None, None)
                if isv is None:
                    isv = any(self.is_vector_sym(s) for s in a.free_symbols)
                    v = None if isv else ev.ev(a)[1]
                if isv:
                    vecs.append((a, v))
                else:
                    c = c * v
            if not vecs:
                return c
            if len(vecs) == 1:
                a, v = vecs[0]
                val = self._E(a, ev) if v is None else self.expect(v)
            else:
                h = len(vecs) // 2
                val = self.inner(self._product(vecs[:h], ev), self._product(vecs[h:], ev))
            return val if c == self.K.one else c * val
        if e.is_Pow and e.exp.is_Integer and e.exp >= 2:
            isv, b = ev.ev(e.base)
            if not isv:
                return ev.ev(e)[1]
            n = int(e.exp)
            k = n // 2
            self.check_power(b, k, ev.node)
            bk = b**k
            return self.inner(bk, bk if n == 2 * k else self.B.mul(bk, b))
        isv, v = ev.ev(e)
        return self.expect(v) if isv else v

    def _product(self, factors: list[tuple[sp.Expr, Any]], ev: _Evaluator) -> Any:
        out = None
        for a, v in factors:
            v = ev.poly(a) if v is None else v
            out = v if out is None else self.B.mul(out, v)
        return out

    def _set_scalar(self, name: str, value: sp.Expr | None, kval: Any) -> None:
        if isinstance(kval, float) and not math.isfinite(kval):
            raise TensorProgError(
                f"'{name}' is {kval} in float64 (overflow or an undefined operation)",
                node=name, hint="the limit is beyond float64 range; use mode='exact'",
            )
        if value is None:
            value = self.K.to_sympy(kval)
        self.values[name] = value
        self.kvals[name] = kval
        self.scalar_subs[sym(name)] = value
        if self.meter is not None and self.B.exact:
            digits = _scalar_digits(kval)
            if digits:
                self.meter.check_size(0, digits, 0, "a scalar")

    def _init_vectors(self, inits: list[InitVector]) -> None:
        """ZInit: the initial vectors form one family with the declared covariance."""
        if not inits:
            return
        fam = self.family("init", None, False, None)
        index_of: dict[str, int] = {}
        for node in inits:
            info = self.new_atom("init", node.name, f"Z^{{{node.name}}}", None)
            self.atom_family[info.index] = fam
            cov = {index_of[o]: self.to_domain(c, node.name) for o, c in node.cov}
            try:
                fam.add(info.index, self.to_domain(node.var, node.name), cov)
            except ArithmeticError:
                check_init_covariance(self.program)  # raises the located ProgramError
                raise
            self._set_pivot(fam, info.index)
            index_of[node.name] = info.index
        for node in inits:
            info = self.atom_of[f"Z^{{{node.name}}}"]
            self.zrep[node.name] = self.atom_rep(info.index)
            self.zdef[node.name] = ("atom", info.symbol)

    def _set_pivot(self, fam: Any, index: int) -> None:
        """Tell the backend the variance of generator ``index``: the LDLᵀ pivot of an
        innovation, or (atom basis) the atom's own variance, which the float backend uses only
        to size terms for pruning."""
        if self.atom_basis:
            self.B.set_pivot(index, fam.cov[(index, index)])
        else:
            self.B.set_pivot(index, fam.d[index])

    def _zmatmul(self, node: MatMul) -> None:
        W, t, x = node.matrix, node.transpose, node.vector
        s2 = self.matrix_var[W]
        s2K = self.to_domain(s2, node.name)
        fname = family_name(W, t)
        label = f"Ẑ^{{{W}ᵀ {x}}}" if t else f"Ẑ^{{{W} {x}}}"
        # ZDot first: it only involves atoms that exist before this one.
        dot = self._zdot(W, not t, s2K, x, node.name)
        # ZHat: join the W̄ family; Cov(Ẑ^{W̄x}, Ẑ^{W̄y}) = σ² E[Z^x Z^y].
        fam = self.family(fname, W, t, s2)
        zx = self.zrep[x]
        cov = {j: s2K * self.inner(zx, self.zrep[self.atom_vector[j]]) for j in fam.members}
        var = s2K * self.inner(zx, zx)
        info = self.new_atom(fname, node.name, label, x)
        self.atom_family[info.index] = fam
        self.atom_vector[info.index] = x
        fam.add(info.index, var, cov)
        self._set_pivot(fam, info.index)
        rep = self.atom_rep(info.index)
        for y, coef in dot:
            rep = rep + self.B.scale(self.zrep[y], coef)
        self.zrep[node.name] = rep
        self.zdef[node.name] = ("matmul", info.symbol, dot)

    def _zdot(self, W: str, other_t: bool, s2K: Any, x: str, node: str) -> list[tuple[str, Any]]:
        """ZDot (TP4 Eq. 31): Ż^{W̄x} as [(y_i, coefficient)] over the opposite family's inputs."""
        other = self.families.get(family_name(W, other_t))
        if other is None or not other.members:
            return []
        if self.zdot == "derivative":
            zx = self.Z(x)
            coefs = {}
            for j in other.members:
                atom = self.atoms[j].symbol
                deriv = sp.diff(zx, atom) if zx.has(atom) else sp.S.Zero
                coefs[j] = self.expect(self.atoms_to_poly(deriv, node)) if deriv != 0 else None
        elif hasattr(self.B, "atom_coefficients"):
            # Affine Z in atom coordinates: E[∂Z^x/∂Ẑ_j] is Z^x's coefficient on atom j.
            coefs = self.B.atom_coefficients(other.members, self.zrep[x])
        else:
            zx = self.zrep[x]
            b = {j: self.inner(self.atom_rep(j), zx) for j in other.members}
            coefs = other.solve(b)
        out = []
        for j in other.members:
            c = coefs.get(j)
            if c:
                out.append((self.atom_vector[j], s2K * c))
        return out

    # ---------------------------------------------------------------- symbolic Z
    def Z(self, name: str) -> sp.Expr:
        """Z^name unwound into atom symbols (a sympy expression)."""
        hit = self._zexpr.get(name)
        if hit is not None:
            return hit
        d = self.zdef[name]
        if d[0] == "atom":
            out = d[1]
        elif d[0] == "nonlin":
            subs = {sym(s.name): self.Z(s.name) for s in d[1].free_symbols if s.name in self.zdef}
            subs.update(self.scalar_subs)
            out = d[1].xreplace(subs)
        else:
            _, atom, dot = d
            out = atom + sp.Add(*[self.K.to_sympy(c) * self.Z(y) for y, c in dot])
        self._zexpr[name] = out
        return out


_RULES = node_table("zcalc", {
    InitScalar: _Engine._rule_init_scalar,
    InitVector: _Engine._rule_init_vector,
    InitMatrix: _Engine._rule_init_matrix,
    MatMul: _Engine._rule_matmul,
    Nonlin: _Engine._rule_nonlin,
    Moment: _Engine._rule_moment,
    ScalarOp: _Engine._scalar_op,
})  # fmt: skip


def _scalar_digits(v: Any) -> int:
    p = getattr(v, "p", None)
    if p is None or not hasattr(p, "bit_length"):
        return 0
    return int((p.bit_length() + v.q.bit_length()) * 0.30103) + 1


class Limit(LimitResult):
    """The infinite-width limit of a program (TP4 Definition 7.3 / Master Theorem 7.4).

    * ``scalars``: every scalar's limit θ̊ (sympy numbers; Rational when exact);
    * ``outputs``: the program's output scalars, in order;
    * ``Z(name)``: Z of a vector in terms of the atoms (``atoms``), symbolic;
    * ``families``: the independent Gaussian families, each with its exact covariance;
    * ``mode``: "exact" or "float"; ``domain``: "QQ" (exact rationals), "EX" (exact with
      irrational constants), "RR" (float inputs in exact mode) or "float64" (``mode="float"``);
    * ``backend`` / ``representation``: which polynomial algebra did the work;
    * ``stats``: sizes reached (largest polynomial in terms, digits, degree; where; seconds).
    """

    def __init__(self, program: Program, engine: _Engine, mode: str, seconds: float,
                 meter: Meter | None = None, plan: DegreePlan | None = None) -> None:
        self.program = program
        self.mode = mode
        self.domain = _domain_name(engine.K)
        self.scalars: dict[str, sp.Expr] = dict(engine.values)
        self.seconds = seconds
        self.zdot = engine.zdot
        self.expectation = engine.expectation
        self.backend = engine.B.name
        self.representation = getattr(engine.B, "representation", engine.B.name)
        self.stats: dict[str, Any] = {"seconds": seconds, "backend": self.backend,
                                      "representation": self.representation}
        if meter is not None:
            self.stats.update({f"max_{k}": v for k, v in meter.peak.items()})
            self.stats.update({f"max_{k}_node": v for k, v in meter.peak_node.items()})
        if plan is not None:
            self.stats["linear"] = plan.linear
        self._engine = engine

    def is_exact(self, name: str) -> bool:
        """True when the scalar's limit is exact (no floating point entered its computation)."""
        v = self._known(name)
        return self.mode != "float" and self.domain != "RR" and not v.has(sp.Float)

    @property
    def kind(self) -> str:
        return "float64" if self.mode == "float" or self.domain == "RR" else self.mode

    def Z(self, name: str) -> sp.Expr:
        """Z^name in terms of the atom symbols (Z^{h} for initial vectors, Ẑ^{W̄y} otherwise)."""
        if name not in self._engine.zdef:
            raise ProgramError(f"'{name}' is not a vector of this program")
        return self._engine.Z(name)

    def Z_innovations(self, name: str) -> sp.Expr:
        """Z^name as an expanded polynomial in the independent innovations u_k ~ N(0, d_k)."""
        eng = self._engine
        if name not in eng.zrep:
            raise ProgramError(f"'{name}' is not a vector of this program")
        p = eng.zrep[name]
        if eng.atom_basis:
            p = eng.B.substitute_linear(p, {a.index: eng.linear_rep(a.index) for a in eng.atoms})
        return eng.B.to_sympy(p)

    def innovation_variances(self) -> dict[str, sp.Expr]:
        """Variance d_k of each innovation u_k that is not identically zero."""
        eng = self._engine
        return {
            f"u{a.index}": eng.K.to_sympy(eng.atom_family[a.index].d[a.index])
            for a in eng.atoms
            if eng.atom_family[a.index].d[a.index]
        }

    @property
    def atoms(self) -> dict[str, AtomInfo]:
        return {a.symbol.name: a for a in self._engine.atoms}

    @property
    def families(self) -> dict[str, FamilyInfo]:
        eng = self._engine
        out = {}
        for name, fam in eng.families.items():
            idx = fam.members
            C = sp.Matrix([[eng.K.to_sympy(fam.cov[(i, j)]) for j in idx] for i in idx])
            matrix, t, s2 = eng.family_meta[name]
            out[name] = FamilyInfo(
                name, tuple(eng.atoms[i].symbol.name for i in idx), C, matrix, t, s2
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: every scalar as exact text, float and exactness flag."""

        def entry(name: str) -> dict[str, Any]:
            return {"value": exact_text(self.scalars[name]), "float": self.as_float(name),
                    "exact": self.is_exact(name)}

        return {
            "program": self.program.name,
            "mode": self.mode,
            "domain": self.domain,
            "backend": self.backend,
            "zdot": self.zdot,
            "expectation": self.expectation,
            "seconds": self.seconds,
            "outputs": {n: entry(n) for n in self.outputs},
            "scalars": {n: entry(n) for n in self.scalars},
        }


def derive_limit(
    program: Program,
    *,
    mode: str = "exact",
    zdot: str = "stein",
    expectation: str = "innovations",
    progress: Progress | None = None,
    backend: str = "auto",
    budget: Budget | dict[str, Any] | None = None,
    float_tol: float | None = None,
    **options: Any,
) -> LimitResult:
    """The infinite-width limit of every scalar (and the Z of every vector) of ``program``.

    mode: "exact" (polynomial nonlinearities; rational inputs give rational limits),
    "float" (the same Z-calculus and exact Gaussian moments with float64 coefficients: cost
    set by the number of terms, not by digit growth; results are marked inexact),
    "numeric" (any whitelisted function; numeric expectations with error estimates, see
    tensorprog.numeric), or "auto" (exact where the program allows; "float" when exact values
    would need irrational constants, e.g. exp() of limits with logistic loss; numeric for
    non-polynomial functions of vectors). The result's ``mode`` says which ran.
    zdot: "stein" (derivative-free, default) or "derivative" (symbolic ∂Φ/∂Ẑ, TP4 Eq. 31).
    expectation: "innovations" (LDLᵀ innovations, default) or "isserlis" (Wick pairings).
    progress: optional callback(done, total, node_name).
    backend: "auto" (flint exact / float64 polynomials, the linear fast path when every Z is
    affine), "flint", "flint-sparse", "flint-kronecker", "plain" (the sympy-ring reference),
    "expand" (sympy expressions multiplied out with sympy.expand: the literal, slow baseline),
    "linear", or "float".
    budget: a tensorprog.budget.Budget or a dict of its fields (max_terms, max_digits,
    max_degree, seconds, memory_mb); exceeding it raises BudgetExceeded naming the node.
    float_tol: mode="float" only: drop terms whose L²(Gaussian) size is below float_tol times
    the polynomial's largest term (default 1e-30; 0 keeps every term).
    options: passed to the numeric interpreter (mode "numeric"/"auto").
    """
    if mode not in MODES:
        raise TensorProgError(
            f"unknown mode '{mode}'", hint="use mode='exact', 'float', 'numeric' or 'auto'"
        )
    if zdot not in ZDOT_ROUTES:
        raise TensorProgError(f"unknown zdot route '{zdot}'", hint=f"one of {ZDOT_ROUTES}")
    if expectation not in EXPECTATION_ROUTES:
        raise TensorProgError(
            f"unknown expectation route '{expectation}'", hint=f"one of {EXPECTATION_ROUTES}"
        )
    if backend not in BACKENDS:
        raise TensorProgError(f"unknown backend '{backend}'", hint=f"one of {BACKENDS}")
    if float_tol is not None and mode != "float":
        raise TensorProgError("float_tol only applies to mode='float'")
    with deadline(as_budget(budget).seconds):
        return _derive(program, mode, zdot, expectation, progress, backend, budget, float_tol,
                       options)


def _derive(program, mode, zdot, expectation, progress, backend, budget, float_tol,
            options) -> LimitResult:  # fmt: skip
    if mode in ("numeric", "auto"):
        if mode == "auto":
            try:
                try:
                    return _derive_polynomial(program, "exact", zdot, expectation, progress,
                                              backend, budget, None, symbolic=False)  # fmt: skip
                except _Symbolic:
                    # Irrational constants (exp of a limit, as with logistic loss) would make
                    # exact values nested symbolic expressions that grow without bound: the
                    # same algebra in float64 is both fast and accurate to ~1e-15.
                    return _derive_polynomial(program, "float", zdot, expectation, progress,
                                              "auto", budget, None)  # fmt: skip
            except NonPolynomialError:
                pass
        meter = Meter(as_budget(budget), program)

        def metered(done: int, total: int, node: str) -> None:
            meter.node = node  # the time budget, checked before every node of every pass
            meter.check_time()
            if progress is not None:
                progress(done, total, node)

        return derive_numeric(program, progress=metered, **options)
    if options:
        raise TensorProgError(f"unknown option(s) {sorted(options)} for mode='{mode}'")
    return _derive_polynomial(program, mode, zdot, expectation, progress, backend, budget,
                              float_tol)  # fmt: skip


class _Symbolic(Exception):
    """The exact limit would need symbolic (irrational) constants, and the caller said no."""


def _derive_polynomial(program, mode, zdot, expectation, progress, backend, budget, float_tol,
                       *, symbolic: bool = True) -> Limit:  # fmt: skip
    """derive_limit for modes "exact" and "float"; ``symbolic=False`` raises _Symbolic instead
    of widening an exact derivation to sympy's EX domain."""
    program.require_bound()
    program.validate()  # outputs and covariance; add() already checked every node
    meter = Meter(as_budget(budget), program)
    plan = degree_plan(program)
    meter.check_degree_plan(plan.node_degree)
    if mode == "exact":
        meter.check_moment_digits(plan.node_degree)
    n_atoms = max(plan.n_atoms, 1)
    start = time.perf_counter()
    domain: Any = "float64" if mode == "float" else QQ
    while True:
        mem = meter.budget.memory_mb
        B = make_backend(backend, mode, domain, n_atoms, plan, expectation,
                         guard=meter.check_product, float_tol=float_tol,
                         dense_mb=None if mem is None else mem / 2)
        engine = _Engine(program, B, zdot, expectation, progress, meter)
        try:
            engine.run()
            break
        except _Widen as w:
            if domain == EX or w.domain == domain:
                raise
            domain = w.domain if domain == QQ else EX
            if domain == EX and not symbolic:
                raise _Symbolic from None
        except ArithmeticError as e:
            raise ProgramError(str(e)) from None
    return Limit(program, engine, mode, time.perf_counter() - start, meter, plan)
