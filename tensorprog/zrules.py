"""The Z-calculus of TP4 Definition 7.3, written once over a value domain.

Yang & Hu, "Tensor Programs IV" (arXiv:2011.14522) §7 interpret a program node by node:

* ZInit    -- the initial vectors are one Gaussian family with their declared covariance
  (Setup 7.2);
* ZNonlin  -- Z^{φ(x..;θ..)} = φ(Z^x..; θ̊..);
* ZMoment  -- θ̊ = E φ(Z^x..; θ̊..);
* ZMatMul  -- Z^{W̄x} = Ẑ^{W̄x} + Ż^{W̄x}, with
  * ZHat: Ẑ^{W̄x} joins the family of W̄ (W and Wᵀ are different families) with
    Cov(Ẑ^{W̄x}, Ẑ^{W̄y}) = σ_W² E[Z^x Z^y];
  * ZDot (Eq. 31): Ż^{W̄x} = σ_W² Σ_i Z^{y_i} E[∂Z^x/∂Ẑ^{W̄ᵀy_i}], over the atoms Ẑ^{W̄ᵀy_i} of
    the opposite orientation's family.

:class:`ZCalculus` applies these rules; what a Z *is* and how an expectation is taken belongs to
a :class:`ZDomain`:

* tensorprog.polynomial -- Z as polynomials in Gaussian atoms, expectations by exact Gaussian
  moments (exact rationals, or float64 coefficients);
* tensorprog.numeric    -- Z as values on a set of Gaussian particles, expectations as weighted
  particle sums (any whitelisted function, with error estimates).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import sympy as sp

from .ir import (
    InitMatrix,
    InitScalar,
    InitVector,
    MatMul,
    Moment,
    Node,
    Nonlin,
    Program,
    ScalarOp,
    check_init_covariance,
    dispatch,
    family_name,
    node_table,
    opposite_family,
)

#: The family of the initial vectors (ZInit).
INIT_FAMILY = "init"


@runtime_checkable
class ZFamily(Protocol):
    """A jointly Gaussian family (ZHat): the initial vectors, or the Ẑ^{W̄y} of one W̄.

    ``inputs`` lists, for the atoms the family keeps, the vector y of each Ẑ^{W̄y} (for the
    initial family: the vector's own name). A domain may keep only the atoms that brought a new
    direction (the particle domain keeps the pivots of its Cholesky factor), as long as every
    covariance and every Stein coefficient is taken against the same list.
    """

    inputs: Sequence[str]

    def add(self, var: Any, cov: Sequence[Any], node: str, vector: str | None) -> Any:
        """A new atom with variance ``var`` and covariances ``cov`` with the atoms of
        ``inputs`` (in order): returns it as a value of the domain."""
        ...


@runtime_checkable
class ZDomain(Protocol):
    """Where the values live: the operations the rules need from a representation of Z."""

    def constant(self, expr: sp.Expr, node: Node) -> Any:
        """A number of the program (a variance, a covariance) as a domain scalar."""
        ...

    def vector(self, name: str) -> Any:
        """Z of an earlier vector."""
        ...

    def inner(self, p: Any, q: Any) -> Any:
        """E[p q] for two Z's."""
        ...

    def new_family(self, name: str, matrix: str | None, transpose: bool,
                   sigma2: sp.Expr | None) -> ZFamily:  # fmt: skip
        ...

    def stein(self, family: ZFamily, x: str, node: str) -> Sequence[Any]:
        """E[∂Z^x/∂Ẑ_j] for the atoms of ``family`` (aligned with ``family.inputs``), for the
        MatMul ``node``; a zero may be returned as None."""
        ...

    def init_scalar(self, node: InitScalar) -> None: ...

    def init_vector(self, node: InitVector, atom: Any) -> None:
        """Z^x of an initial vector is its atom."""
        ...

    def nonlin(self, node: Nonlin) -> None:
        """ZNonlin: Z^{node} = φ(Z^x..; θ̊..)."""
        ...

    def moment(self, node: Moment) -> None:
        """ZMoment: θ̊ = E φ(Z^x..; θ̊..)."""
        ...

    def scalar_op(self, node: ScalarOp) -> None:
        """A scalar computed from earlier limits."""
        ...

    def matmul(self, node: MatMul, atom: Any, dot: list[tuple[str, Any]]) -> None:
        """Z^{W̄x} = Ẑ^{W̄x} + Σ_i c_i Z^{y_i}, with ``dot`` = [(y_i, c_i)] (ZDot)."""
        ...

    def free(self, name: str) -> None:
        """Z^name will not be read again."""
        ...


class ZCalculus:
    """Interprets ``program`` in ``domain``, node by node (TP4 Definition 7.3).

    ``before_node(i, node)`` runs before each node (progress, budgets). ``free_after[i]`` names
    the vectors to drop after node i and ``families_done[i]`` the matrices whose families no
    later node needs (``None``: keep everything, as the polynomial limit does for its report).
    """

    def __init__(
        self,
        program: Program,
        domain: ZDomain,
        *,
        before_node: Callable[[int, Node], None] | None = None,
        free_after: Sequence[Sequence[str]] | None = None,
        families_done: Sequence[Sequence[str]] | None = None,
    ) -> None:
        self.program = program
        self.domain = domain
        self.before_node = before_node
        self.free_after = free_after
        self.families_done = families_done
        self.families: dict[str, ZFamily] = {}
        self._var: dict[str, sp.Expr] = {}  # matrix -> σ², as written in the program
        self._sigma2: dict[str, Any] = {}  # ... as a domain scalar, once a MatMul needs it

    def run(self) -> None:
        nodes = self.program.nodes
        self._zinit([n for n in nodes if isinstance(n, InitVector)])
        for i, node in enumerate(nodes):
            if self.before_node is not None:
                self.before_node(i, node)
            dispatch(_RULES, node, self)
            if self.free_after is not None:
                for name in self.free_after[i]:
                    self.domain.free(name)
            if self.families_done is not None:
                for W in self.families_done[i]:
                    self.families.pop(family_name(W, False), None)
                    self.families.pop(family_name(W, True), None)

    def family(self, name: str, matrix: str | None = None, transpose: bool = False) -> ZFamily:
        fam = self.families.get(name)
        if fam is None:
            s2 = None if matrix is None else self._var[matrix]
            fam = self.families[name] = self.domain.new_family(name, matrix, transpose, s2)
        return fam

    # ---------------------------------------------------------------- the rules
    def _zinit(self, inits: list[InitVector]) -> None:
        """ZInit: the initial vectors are one family with the declared covariance."""
        if not inits:
            return
        d = self.domain
        fam = self.family(INIT_FAMILY)
        atoms = []
        for node in inits:
            declared = dict(node.cov)
            cov = [d.constant(declared.get(y, sp.S.Zero), node) for y in fam.inputs]
            try:
                atoms.append(fam.add(d.constant(node.var, node), cov, node.name, None))
            except ArithmeticError:
                check_init_covariance(self.program)  # raises the located ProgramError
                raise
        for node, atom in zip(inits, atoms):
            d.init_vector(node, atom)

    def _rule_init_scalar(self, node: InitScalar) -> None:
        self.domain.init_scalar(node)

    def _rule_init_vector(self, node: InitVector) -> None:
        pass  # ZInit: the initial family was built before the first node

    def _rule_init_matrix(self, node: InitMatrix) -> None:
        self._var[node.name] = node.var

    def _rule_nonlin(self, node: Nonlin) -> None:
        self.domain.nonlin(node)  # ZNonlin

    def _rule_moment(self, node: Moment) -> None:
        self.domain.moment(node)  # ZMoment

    def _rule_scalar_op(self, node: ScalarOp) -> None:
        self.domain.scalar_op(node)

    def _rule_matmul(self, node: MatMul) -> None:
        """ZMatMul: Z^{W̄x} = Ẑ^{W̄x} + Ż^{W̄x}."""
        d = self.domain
        W, t, x = node.matrix, node.transpose, node.vector
        s2 = self._sigma2.get(W)
        if s2 is None:
            s2 = self._sigma2[W] = d.constant(self._var[W], node)
        zx = d.vector(x)
        # ZDot first (TP4 Eq. 31): it involves only atoms that exist before this one.
        dot: list[tuple[str, Any]] = []
        other = self.families.get(opposite_family(W, t))
        if other is not None and other.inputs:
            for y, e in zip(other.inputs, d.stein(other, x, node.name)):
                if e:
                    dot.append((y, s2 * e))
        # ZHat: join the W̄ family; Cov(Ẑ^{W̄x}, Ẑ^{W̄y}) = σ² E[Z^x Z^y].
        fam = self.family(family_name(W, t), W, t)
        cov = [s2 * d.inner(zx, d.vector(y)) for y in fam.inputs]
        atom = fam.add(s2 * d.inner(zx, zx), cov, node.name, x)
        d.matmul(node, atom, dot)


_RULES = node_table("zcalculus", {
    InitScalar: ZCalculus._rule_init_scalar,
    InitVector: ZCalculus._rule_init_vector,
    InitMatrix: ZCalculus._rule_init_matrix,
    MatMul: ZCalculus._rule_matmul,
    Nonlin: ZCalculus._rule_nonlin,
    Moment: ZCalculus._rule_moment,
    ScalarOp: ZCalculus._rule_scalar_op,
})  # fmt: skip
