"""The limit interpreter: the Z-calculus of TP4 Definition 7.3, applied node by node.

Rules (TP4 §7, Definition 7.3; design.md §1):

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
the families (expectation route "innovations") or the atoms themselves ("isserlis"), over an exact
domain (QQ) unless the program brings in floats (RR) or irrational constants (EX).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy as sp
from sympy.polys.domains import EX, QQ, RR
from sympy.polys.polyerrors import CoercionFailed
from sympy.polys.rings import ring

from .errors import NonPolynomialError, ProgramError, TensorProgError
from .expr import Algebra, fold
from .gaussian import GaussianFamily, Isserlis, MomentTable, expect_innovations
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
    sym,
)

ZDOT_ROUTES = ("stein", "derivative")
EXPECTATION_ROUTES = ("innovations", "isserlis")

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


def _domain_name(K: Any) -> str:
    return "QQ" if K == QQ else ("RR" if K == RR else "EX")


class _PolyAlgebra(Algebra):
    """Fold program/Z expressions into polynomials of the engine's ring (exact mode)."""

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
        value = c.xreplace(self.eng.scalar_subs)
        return self.eng.R.ground_new(self.eng.to_domain(value, self.node))

    def power(self, base: Any, exponent: sp.Expr, node: sp.Expr) -> Any:
        if exponent.is_Integer and exponent >= 0:
            return base ** int(exponent)
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


class _Engine:
    def __init__(
        self,
        program: Program,
        domain: Any,
        zdot: str,
        expectation: str,
        progress: Progress | None,
    ) -> None:
        self.program = program
        self.K = domain
        self.zdot = zdot
        self.expectation = expectation
        self.progress = progress
        n_atoms = sum(isinstance(n, (InitVector, MatMul)) for n in program.nodes)
        self.R, *self.gens = ring([f"u{k}" for k in range(max(n_atoms, 1))], domain)
        self.values: dict[str, sp.Expr] = {}
        self.scalar_subs: dict[sp.Symbol, sp.Expr] = {}
        self.zrep: dict[str, Any] = {}  # vector name -> polynomial in the chosen basis
        self.zdef: dict[str, tuple] = {}  # vector name -> how Z was built (for symbolic Z)
        self.atoms: list[AtomInfo] = []
        self.atom_of: dict[str, AtomInfo] = {}  # atom symbol name -> info
        self.families: dict[str, GaussianFamily] = {}
        self.family_meta: dict[str, tuple[str | None, bool, sp.Expr | None]] = {}
        self.atom_family: dict[int, GaussianFamily] = {}
        self.atom_vector: dict[int, str | None] = {}
        self.moments = MomentTable(domain, lambda k: self.atom_family[k].d[k])
        self.isserlis = Isserlis(domain, self._atom_cov)
        self._zexpr: dict[str, sp.Expr] = {}
        self.matrix_var: dict[str, sp.Expr] = {}

    # ---------------------------------------------------------------- domain
    def to_domain(self, c: sp.Expr, node: str) -> Any:
        if not c.is_number:
            raise ProgramError(f"'{node}': could not reduce {c} to a number", node=node)
        if c.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
            raise ProgramError(f"'{node}': a scalar is infinite or undefined ({c})", node=node)
        if self.K == QQ:
            if c.has(sp.Float):
                raise _Widen(RR)
            try:
                return QQ.from_sympy(c)
            except CoercionFailed:
                raise _Widen(EX) from None
        return self.K.from_sympy(c)

    def expect(self, p: Any) -> Any:
        if self.expectation == "innovations":
            return expect_innovations(p, self.moments)
        return self.isserlis(p)

    def _atom_cov(self, i: int, j: int) -> Any:
        fam = self.atom_family[i]
        if self.atom_family[j] is not fam:
            return self.K.zero
        return fam.cov[(i, j)]

    def atom_rep(self, index: int) -> Any:
        """Atom ``index`` as a polynomial in the basis in use."""
        if self.expectation == "isserlis":
            return self.gens[index]
        fam = self.atom_family[index]
        return sum(
            (self.R.ground_new(c) * self.gens[j] for j, c in fam.linear_form(index).items()),
            self.R.zero,
        )

    def is_vector_sym(self, s: sp.Symbol) -> bool:
        return s.name in self.zrep

    def to_poly(self, expr: sp.Expr, node: str) -> Any:
        """A program expression (over node symbols) as a polynomial: ZNonlin applied."""
        alg = _PolyAlgebra(self, lambda s: self.zrep[s.name], node, self.is_vector_sym)
        return fold(expr, alg)

    def atoms_to_poly(self, expr: sp.Expr, node: str) -> Any:
        """An expression over atom symbols (a symbolic Z) as a polynomial."""
        alg = _PolyAlgebra(
            self, lambda s: self.atom_rep(self.atom_of[s.name].index), node,
            lambda s: s.name in self.atom_of,
        )
        return fold(expr, alg)

    # ---------------------------------------------------------------- atoms
    def new_atom(self, family: str, node: str, label: str, vector: str | None) -> AtomInfo:
        name = label
        k = 2
        while name in self.atom_of:
            name, k = f"{label}#{k}", k + 1
        info = AtomInfo(sp.Symbol(name, real=True), len(self.atoms), family, node, vector)
        self.atoms.append(info)
        self.atom_of[name] = info
        return info

    def family(self, name: str, matrix: str | None, transpose: bool, s2) -> GaussianFamily:
        fam = self.families.get(name)
        if fam is None:
            fam = self.families[name] = GaussianFamily(name, self.K)
            self.family_meta[name] = (matrix, transpose, s2)
        return fam

    # ---------------------------------------------------------------- rules
    def run(self) -> None:
        nodes = self.program.nodes
        total = len(nodes)
        self._init_vectors([n for n in nodes if isinstance(n, InitVector)])
        for i, node in enumerate(nodes):
            if self.progress is not None:
                self.progress(i, total, node.name)
            if isinstance(node, InitScalar):
                self._set_scalar(node.name, node.value)
            elif isinstance(node, InitMatrix):
                self.matrix_var[node.name] = node.var
            elif isinstance(node, MatMul):
                self._zmatmul(node)
            elif isinstance(node, Nonlin):
                # ZNonlin: substitute the Z's of the arguments and the limits of the scalars.
                self.zrep[node.name] = self.to_poly(node.expr, node.name)
                self.zdef[node.name] = ("nonlin", node.expr)
            elif isinstance(node, Moment):
                # ZMoment: the limit of a coordinate average is the expectation of its Z.
                value = self.expect(self.to_poly(node.expr, node.name))
                self._set_scalar(node.name, self.K.to_sympy(value))
            elif isinstance(node, ScalarOp):
                value = node.expr.xreplace(self.scalar_subs)
                self.to_domain(value, node.name)  # checks finiteness; widens the domain if needed
                self._set_scalar(node.name, value)
        if self.progress is not None:
            self.progress(total, total, "")

    def _set_scalar(self, name: str, value: sp.Expr) -> None:
        self.values[name] = value
        self.scalar_subs[sym(name)] = value

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
            index_of[node.name] = info.index
        for node in inits:
            info = self.atom_of[f"Z^{{{node.name}}}"]
            self.zrep[node.name] = self.atom_rep(info.index)
            self.zdef[node.name] = ("atom", info.symbol)

    def _zmatmul(self, node: MatMul) -> None:
        W, t, x = node.matrix, node.transpose, node.vector
        s2 = self.matrix_var[W]
        s2K = self.to_domain(s2, node.name)
        fname = f"{W}ᵀ" if t else W
        label = f"Ẑ^{{{W}ᵀ {x}}}" if t else f"Ẑ^{{{W} {x}}}"
        # ZDot first: it only involves atoms that exist before this one.
        dot = self._zdot(W, not t, s2K, x, node.name)
        # ZHat: join the W̄ family; Cov(Ẑ^{W̄x}, Ẑ^{W̄y}) = σ² E[Z^x Z^y].
        fam = self.family(fname, W, t, s2)
        zx = self.zrep[x]
        cov = {j: s2K * self.expect(zx * self.zrep[self.atom_vector[j]]) for j in fam.members}
        var = s2K * self.expect(zx * zx)
        info = self.new_atom(fname, node.name, label, x)
        self.atom_family[info.index] = fam
        self.atom_vector[info.index] = x
        fam.add(info.index, var, cov)
        rep = self.atom_rep(info.index)
        for y, coef in dot:
            rep += self.R.ground_new(coef) * self.zrep[y]
        self.zrep[node.name] = rep
        self.zdef[node.name] = ("matmul", info.symbol, dot)

    def _zdot(self, W: str, other_t: bool, s2K: Any, x: str, node: str) -> list[tuple[str, Any]]:
        """ZDot (TP4 Eq. 31): Ż^{W̄x} as [(y_i, coefficient)] over the opposite family's inputs."""
        other = self.families.get(f"{W}ᵀ" if other_t else W)
        if other is None or not other.members:
            return []
        if self.zdot == "derivative":
            zx = self.Z(x)
            coefs = {}
            for j in other.members:
                atom = self.atoms[j].symbol
                deriv = sp.diff(zx, atom) if zx.has(atom) else sp.S.Zero
                coefs[j] = self.expect(self.atoms_to_poly(deriv, node)) if deriv != 0 else None
        else:
            zx = self.zrep[x]
            b = {j: self.expect(self.atom_rep(j) * zx) for j in other.members}
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


class Limit:
    """The infinite-width limit of a program (TP4 Definition 7.3 / Master Theorem 7.4).

    * ``scalars``: every scalar's limit θ̊ (sympy numbers; Rational when exact);
    * ``outputs``: the program's output scalars, in order;
    * ``Z(name)``: Z of a vector in terms of the atoms (``atoms``), symbolic;
    * ``families``: the independent Gaussian families, each with its exact covariance.
    """

    def __init__(self, program: Program, engine: _Engine, mode: str, seconds: float) -> None:
        self.program = program
        self.mode = mode
        self.domain = _domain_name(engine.K)
        self.scalars: dict[str, sp.Expr] = dict(engine.values)
        self.seconds = seconds
        self.zdot = engine.zdot
        self.expectation = engine.expectation
        self._engine = engine

    @property
    def outputs(self) -> dict[str, sp.Expr]:
        return {n: self.scalars[n] for n in self.program.outputs if n in self.scalars}

    def __getitem__(self, name: str) -> sp.Expr:
        return self.scalars[name]

    def is_exact(self, name: str) -> bool:
        """True when the scalar's limit is exact (no floating point entered its computation)."""
        v = self.scalars[name]
        return self.domain != "RR" and not v.has(sp.Float)

    def is_rational(self, name: str) -> bool:
        return bool(self.scalars[name].is_Rational)

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
        if eng.expectation == "isserlis":
            subs = [(eng.gens[a.index], _linear(eng, a.index)) for a in eng.atoms]
            p = p.compose(subs) if subs else p
        return p.as_expr()

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
            v = self.scalars[name]
            try:
                f = float(v)
            except (TypeError, ValueError):
                f = None
            return {"value": str(v), "float": f, "exact": self.is_exact(name)}

        return {
            "program": self.program.name,
            "mode": self.mode,
            "domain": self.domain,
            "zdot": self.zdot,
            "expectation": self.expectation,
            "seconds": self.seconds,
            "outputs": {n: entry(n) for n in self.outputs},
            "scalars": {n: entry(n) for n in self.scalars},
        }

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v}" for k, v in self.outputs.items())
        return f"Limit({body})"


def _linear(eng: _Engine, index: int) -> Any:
    fam = eng.atom_family[index]
    return sum(
        (eng.R.ground_new(c) * eng.gens[j] for j, c in fam.linear_form(index).items()),
        eng.R.zero,
    )


def derive_limit(
    program: Program,
    *,
    mode: str = "exact",
    zdot: str = "stein",
    expectation: str = "innovations",
    progress: Progress | None = None,
    **options: Any,
) -> Limit:
    """The infinite-width limit of every scalar (and the Z of every vector) of ``program``.

    mode: "exact" (polynomial nonlinearities; rational inputs give rational limits),
    "numeric" (any whitelisted function; numeric expectations with error estimates, see
    tensorprog.numeric), or "auto" (exact where the program allows, numeric otherwise).
    zdot: "stein" (derivative-free, default) or "derivative" (symbolic ∂Φ/∂Ẑ, TP4 Eq. 31).
    expectation: "innovations" (LDLᵀ innovations, default) or "isserlis" (Wick pairings).
    progress: optional callback(done, total, node_name).
    options: passed to the numeric interpreter (mode "numeric"/"auto").
    """
    if mode in ("numeric", "auto"):
        if mode == "auto":
            try:
                return derive_limit(
                    program, zdot=zdot, expectation=expectation, progress=progress
                )
            except NonPolynomialError:
                pass
        from .numeric import derive_numeric

        return derive_numeric(program, progress=progress, **options)
    if mode != "exact":
        raise TensorProgError(
            f"unknown mode '{mode}'", hint="use mode='exact', 'numeric' or 'auto'"
        )
    if options:
        raise TensorProgError(f"unknown option(s) {sorted(options)} for mode='exact'")
    if zdot not in ZDOT_ROUTES:
        raise TensorProgError(f"unknown zdot route '{zdot}'", hint=f"one of {ZDOT_ROUTES}")
    if expectation not in EXPECTATION_ROUTES:
        raise TensorProgError(
            f"unknown expectation route '{expectation}'", hint=f"one of {EXPECTATION_ROUTES}"
        )
    program.validate()
    start = time.perf_counter()
    domain: Any = QQ
    while True:
        engine = _Engine(program, domain, zdot, expectation, progress)
        try:
            engine.run()
            break
        except _Widen as w:
            if domain == EX or w.domain == domain:
                raise
            domain = w.domain if domain == QQ else EX
        except ArithmeticError as e:
            raise ProgramError(str(e)) from None
    return Limit(program, engine, mode, time.perf_counter() - start)
