"""A cheap pre-pass over a program: degree bounds of every Z before any algebra is done.

The limit engine (TP4 Def. 7.3) turns every vector into a polynomial in Gaussian innovations.
Before computing anything we bound, node by node, the degree of those polynomials:

* ZInit / ZHat: an atom is linear in the innovations of its family members so far (LDLᵀ rows);
* ZDot: Ż^{W̄x} is a combination of the Z^{y} over the opposite orientation's inputs so far,
  so Z^{W̄x} has at most their degree;
* ZNonlin: degrees add under products and take the max under sums;
* ZMoment / ZHat covariances / Stein's b_j: the integrand is a product of two such polynomials.

The bounds choose the representation (dense Kronecker packing needs a per-variable degree bound
for every product ever formed, so that packed exponents never carry), detect the linear fast path
(every Z affine in the atoms), and let the budget refuse a program whose degree is too high
before any work is done.
"""

from __future__ import annotations

import sympy as sp

from ..ir import (
    InitMatrix,
    InitScalar,
    InitVector,
    MatMul,
    Moment,
    Nonlin,
    Program,
    ScalarOp,
    dispatch,
    family_name,
    node_table,
    opposite_family,
)
from .base import DegreePlan  # defined with the backend interface; re-exported here

__all__ = ["MAX_TRACKED_VARS", "DegreePlan", "degree_plan"]

#: Per-variable bounds are tracked only for programs with at most this many atoms (the packed
#: representations are only used for few variables anyway).
MAX_TRACKED_VARS = 12


class _NonPoly(Exception):
    pass


def _degree(e: sp.Expr, deg: dict[str, object], zero: object, vmax, vadd, vmul) -> object:
    """Degree bound of an expression (one bottom-up pass; scalars have degree ``zero``)."""
    if e.is_Symbol:
        return deg.get(e.name, zero)
    if e.is_Number or e.is_NumberSymbol:
        return zero
    if e.is_Add or e.is_Mul:
        out = None
        for a in e.args:
            d = _degree(a, deg, zero, vmax, vadd, vmul)
            out = d if out is None else (vmax(out, d) if e.is_Add else vadd(out, d))
        return out
    if e.is_Pow:
        b = _degree(e.base, deg, zero, vmax, vadd, vmul)
        if b == zero:
            return zero
        if e.exp.is_Integer and e.exp >= 0:
            return vmul(b, int(e.exp))
        raise _NonPoly
    if all(_degree(a, deg, zero, vmax, vadd, vmul) == zero for a in e.args):
        return zero  # a function of scalars only
    raise _NonPoly


def _vec_max(a: tuple, b: tuple) -> tuple:
    return tuple(max(x, y) for x, y in zip(a, b))


def _vec_add(a: tuple, b: tuple) -> tuple:
    return tuple(x + y for x, y in zip(a, b))


def _vec_mul(a: tuple, n: int) -> tuple:
    return tuple(n * x for x in a)


def _tot_add(a: int, b: int) -> int:
    return a + b


def _tot_mul(a: int, n: int) -> int:
    return a * n


def degree_plan(program: Program) -> DegreePlan:
    """Bound the degree of every polynomial the exact engine will form (no algebra done)."""
    planner = _Planner(program.nodes)
    for node in program.nodes:
        dispatch(_RULES, node, planner)
        if isinstance(node, (InitVector, MatMul, Nonlin)) and planner.tot[node.name] > 1:
            planner.plan.linear = False
    return planner.finish()


class _Planner:
    """The state of one degree_plan pass; one method per node kind (the _RULES table)."""

    def __init__(self, nodes: list) -> None:
        inits = [n for n in nodes if isinstance(n, InitVector)]
        mats = [n for n in nodes if isinstance(n, MatMul)]
        self.n_atoms = n_atoms = len(inits) + len(mats)
        self.plan = DegreePlan(n_atoms)
        self.track = 0 < n_atoms <= MAX_TRACKED_VARS
        self.zero_v = (0,) * n_atoms
        self.tot: dict[str, int] = {}
        self.vec: dict[str, tuple] = {}
        self.bound = list(self.zero_v)
        self.members: dict[str, list[int]] = {}
        self.inputs: dict[str, list[str]] = {}  # family -> vectors y with an atom Ẑ^{W̄y}
        init_idx = list(range(len(inits)))
        for k, node in enumerate(inits):
            self.tot[node.name] = 1
            if self.track:
                self.vec[node.name] = self.unit(init_idx[: k + 1])
        self.next_atom = len(inits)

    def note(self, name: str, t: int, v: tuple | None) -> None:
        plan = self.plan
        if t > plan.node_degree.get(name, -1):
            plan.node_degree[name] = t
        if t > plan.max_total:
            plan.max_total = t
        if v is not None:
            for k, e in enumerate(v):
                if e > self.bound[k]:
                    self.bound[k] = e

    def unit(self, indices: list[int]) -> tuple:
        v = [0] * self.n_atoms
        for k in indices:
            v[k] = 1
        return tuple(v)

    def finish(self) -> DegreePlan:
        self.plan.total = self.tot
        self.plan.var_bound = tuple(self.bound) if self.track else None
        return self.plan

    # ---------------------------------------------------------------- rules
    def skip(self, node) -> None:
        """Scalars and matrices form no polynomial."""

    def init_vector(self, node: InitVector) -> None:
        self.note(node.name, 1, self.vec.get(node.name))

    def matmul(self, node: MatMul) -> None:
        tot, vec, track, inputs = self.tot, self.vec, self.track, self.inputs
        fam = family_name(node.matrix, node.transpose)
        opp = opposite_family(node.matrix, node.transpose)
        k = self.next_atom
        self.next_atom += 1
        mem = self.members.setdefault(fam, [])
        mem.append(k)
        x = node.vector
        # ZHat covariances E[Z^x Z^y] (y = x included), Stein's b_j = E[Ẑ^{W̄ᵀy_j} Z^x].
        for y in inputs.get(fam, []) + [x]:
            self.note(node.name, tot[x] + tot[y], _vec_add(vec[x], vec[y]) if track else None)
        if self.members.get(opp):
            self.note(node.name, tot[x] + 1,
                      _vec_add(vec[x], self.unit(self.members[opp])) if track else None)
        inputs.setdefault(fam, []).append(x)
        t = max([1] + [tot[y] for y in inputs.get(opp, [])])
        tot[node.name] = t
        if track:
            v = self.unit(mem)
            for y in inputs.get(opp, []):
                v = _vec_max(v, vec[y])
            vec[node.name] = v
        self.note(node.name, t, vec.get(node.name))

    def expression(self, node: Nonlin | Moment) -> None:
        zero_v, track = self.zero_v, self.track
        try:
            t = _degree(node.expr, self.tot, 0, max, _tot_add, _tot_mul)
            v = (_degree(node.expr, self.vec, zero_v, _vec_max, _vec_add, _vec_mul)
                 if track else None)  # fmt: skip
        except _NonPoly:
            self.plan.polynomial = False
            self.plan.linear = False
            t, v = 1, (zero_v if track else None)
        if isinstance(node, Nonlin):
            self.tot[node.name] = t
            if track:
                self.vec[node.name] = v
        self.note(node.name, t, v)


_RULES = node_table("degree_plan", {
    InitScalar: _Planner.skip,
    InitVector: _Planner.init_vector,
    InitMatrix: _Planner.skip,
    MatMul: _Planner.matmul,
    Nonlin: _Planner.expression,
    Moment: _Planner.expression,
    ScalarOp: _Planner.skip,
})  # fmt: skip
