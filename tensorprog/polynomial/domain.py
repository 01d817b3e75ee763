"""The polynomial domain of the Z-calculus: every Z a polynomial in Gaussian atoms, every
expectation an exact Gaussian moment (tensorprog.zrules.ZDomain).

The polynomial algebra is a pluggable backend (tensorprog.backends): python-flint exact
rationals, sympy rings (the "plain" reference, and the only one for irrational constants),
float64 polynomials (``mode="float"``), or Gaussian linear algebra on affine forms when every Z
is linear in the atoms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy as sp

from ..budget import Meter
from ..expr import fold
from ..ir import InitScalar, InitVector, MatMul, Moment, Node, Nonlin, Program, ScalarOp
from ..zrules import ZCalculus
from .atoms import Atoms, PolyFamily
from .convert import Converter, Evaluator, PolyAlgebra
from .expectation import Expectation, moment
from .scalars import Scalars
from .symbolic import SymbolicZ

Progress = Callable[[int, int, str], None]


class PolynomialDomain:
    """Z's as backend polynomials; ``zdot`` is "stein" (solve G c = b with
    b_j = E[Ẑ_j Z^x], derivative-free) or "derivative" (differentiate the symbolic Z^x by the
    atoms); ``expectation`` is "innovations" or "isserlis"."""

    def __init__(self, program: Program, backend: Any, zdot: str, expectation: str,
                 meter: Meter | None = None) -> None:  # fmt: skip
        self.program = program
        self.B = backend
        self.K = backend.K
        self.zdot = zdot
        self.expectation = expectation
        self.meter = meter
        # The reference backend keeps the original evaluation order exactly.
        self.fast = backend.name != "plain"
        # Generators are the atoms themselves (Isserlis route, or the linear backend).
        atom_basis = expectation == "isserlis" or getattr(backend, "atom_basis", False)
        self.scalars = Scalars(self.K, self.fast, meter, backend.exact)
        self.atoms = Atoms(backend, atom_basis)
        self.E = Expectation(backend, expectation, self.atoms)
        self.conv = Converter(program, backend, self.scalars, meter)
        self.Z = SymbolicZ(self.K, self.scalars)
        self.zrep: dict[str, Any] = {}  # vector name -> polynomial in the chosen basis

    def run(self, progress: Progress | None = None) -> None:
        """Interpret the whole program (ZCalculus), metering time and memory before each node."""
        total = len(self.program.nodes)
        meter = self.meter

        def before(i: int, node: Node) -> None:
            if progress is not None:
                progress(i, total, node.name)
            if meter is not None:
                meter.node = node.name
                meter.check_time()
                meter.check_memory()

        ZCalculus(self.program, self, before_node=before).run()
        if progress is not None:
            progress(total, total, "")

    # ---------------------------------------------------------------- ZDomain
    def constant(self, expr: sp.Expr, node: Node) -> Any:
        return self.scalars.to_domain(expr, node.name)

    def vector(self, name: str) -> Any:
        return self.zrep[name]

    def inner(self, p: Any, q: Any) -> Any:
        return self.E.inner(p, q)

    def new_family(self, name: str, matrix: str | None, transpose: bool,
                   sigma2: sp.Expr | None) -> PolyFamily:  # fmt: skip
        return self.atoms.new_family(name, matrix, transpose, sigma2)

    def stein(self, family: PolyFamily, x: str, node: str) -> list[Any]:
        members = family.members
        if self.zdot == "derivative":
            zx = self.Z(x)
            out = []
            for j in members:
                atom = self.atoms.atoms[j].symbol
                deriv = sp.diff(zx, atom) if zx.has(atom) else sp.S.Zero
                out.append(self.E.expect(self.atoms_to_poly(deriv, node)) if deriv != 0
                           else None)  # fmt: skip
            return out
        if hasattr(self.B, "atom_coefficients"):
            # Affine Z in atom coordinates: E[∂Z^x/∂Ẑ_j] is Z^x's coefficient on atom j.
            coefs = self.B.atom_coefficients(members, self.zrep[x])
        else:
            # Stein's lemma: E[Ẑ_j Z^x] = Σ_k Cov(Ẑ_j, Ẑ_k) E[∂Z^x/∂Ẑ_k].
            zx = self.zrep[x]
            b = {j: self.E.inner(self.atoms.rep(j), zx) for j in members}
            coefs = family.gaussian.solve(b)
        return [coefs.get(j) for j in members]

    def init_scalar(self, node: InitScalar) -> None:
        self.scalars.set(node.name, node.value, self.scalars.to_domain(node.value, node.name))

    def init_vector(self, node: InitVector, atom: Any) -> None:
        self.zrep[node.name] = atom
        self.Z.atom(node.name, self.atoms.of_node[node.name].symbol)

    def nonlin(self, node: Nonlin) -> None:
        # ZNonlin: substitute the Z's of the arguments and the limits of the scalars.
        self.zrep[node.name] = self.to_poly(node.expr, node.name)
        self.Z.nonlin(node.name, node.expr)
        self._check(node.name)

    def moment(self, node: Moment) -> None:
        # ZMoment: the limit of a coordinate average is the expectation of its Z.
        if self.fast:
            value = moment(self.E, self.conv, node.expr, self._evaluator(node.name))
        else:
            value = self.E.expect(self.to_poly(node.expr, node.name))
        self.scalars.set(node.name, None, value)

    def scalar_op(self, node: ScalarOp) -> None:
        self.scalars.compute(node.name, node.expr)

    def matmul(self, node: MatMul, atom: Any, dot: list[tuple[str, Any]]) -> None:
        rep = atom
        for y, coef in dot:
            rep = rep + self.B.scale(self.zrep[y], coef)
        self.zrep[node.name] = rep
        self.Z.matmul(node.name, self.atoms.of_node[node.name].symbol, dot)
        self._check(node.name)

    def free(self, name: str) -> None:
        pass  # the result reports every Z

    # ---------------------------------------------------------------- helpers
    def _check(self, name: str) -> None:
        if self.meter is not None:
            st = self.B.stats(self.zrep[name])
            self.meter.check_size(st.terms, st.digits, st.degree, f"Z^{{{name}}}")

    def is_vector(self, s: sp.Symbol) -> bool:
        return s.name in self.zrep

    def _vector_leaf(self, s: sp.Symbol) -> Any:
        return self.zrep[s.name]

    def _evaluator(self, node: str) -> Evaluator:
        return Evaluator(self.conv, node, self._vector_leaf, self.is_vector)

    def to_poly(self, expr: sp.Expr, node: str) -> Any:
        """A program expression (over node symbols) as a polynomial: ZNonlin applied."""
        if self.fast:
            return self._evaluator(node).poly(expr)
        return fold(expr, PolyAlgebra(self.conv, self._vector_leaf, node, self.is_vector))

    def atoms_to_poly(self, expr: sp.Expr, node: str) -> Any:
        """An expression over atom symbols (a symbolic Z) as a polynomial."""
        atoms = self.atoms
        alg = PolyAlgebra(self.conv, lambda s: atoms.rep(atoms.by_name[s.name].index), node,
                          lambda s: s.name in atoms.by_name)  # fmt: skip
        return fold(expr, alg)
