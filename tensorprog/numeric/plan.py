"""What a numeric pass needs besides the particles: the node list, when each vector can be freed,
and whether every function of a vector is smooth (which picks the integration method)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..functions import SYMPY_HEADS
from ..ir import MatMul, Moment, Nonlin, Program, init_covariance, kind_of, last_use
from .family import pivot_count


@dataclass(frozen=True)
class Plan:
    """What a pass needs besides the particles: the node list and when to free each vector."""

    program: Program
    free_after: tuple[tuple[str, ...], ...]  # vectors to drop after node i
    families_done: tuple[tuple[str, ...], ...]  # matrices whose families to drop after node i
    init_rank: int
    matmuls: int
    smooth: bool  # every function of a vector is analytic (see ``is_smooth``)

    @property
    def dims(self) -> int:
        """An upper bound on the number of independent Gaussian innovations."""
        return self.init_rank + self.matmuls


def make_plan(program: Program) -> Plan:
    """The plan of ``program``: vectors are freed after their last use, except that MatMul
    inputs live as long as their matrix is used (ZHat and ZDot of later MatMuls read them)."""
    nodes = program.nodes
    _, C = init_covariance(program)
    Cf = np.array([[float(C[i, j]) for j in range(C.cols)] for i in range(C.rows)])
    rank = pivot_count(Cf)
    last_matmul: dict[str, int] = {}
    inputs_of: dict[str, list[str]] = {}
    for i, node in enumerate(nodes):
        if isinstance(node, MatMul):
            last_matmul[node.matrix] = i
            inputs_of.setdefault(node.matrix, []).append(node.vector)
    # ZHat and ZDot of a later MatMul by the same matrix read the inputs of earlier ones.
    also: list[list[str]] = [[] for _ in nodes]
    for W, i in last_matmul.items():
        also[i] = inputs_of[W]
    scalars_and_matrices = {n.name for n in nodes if kind_of(n) != "vector"}
    free = last_use(nodes, keep=scalars_and_matrices, also_reads=also)
    done: list[list[str]] = [[] for _ in nodes]
    for W, i in last_matmul.items():
        done[i].append(W)
    return Plan(
        program,
        tuple(map(tuple, free)),
        tuple(map(tuple, done)),
        rank,
        sum(isinstance(n, MatMul) for n in nodes),
        all(is_smooth(n.expr, program) for n in nodes if isinstance(n, (Nonlin, Moment))),
    )


#: Functions analytic on a strip around the real line: Gauss–Hermite converges fast for them.
ANALYTIC = frozenset({"exp", "tanh", "sigmoid", "erf", "gelu", "silu", "sin", "cos"})


def is_smooth(expr: sp.Expr, program: Program) -> bool:
    """True when every vector-dependent part of ``expr`` is a polynomial or an ANALYTIC
    function of such parts (no relu/abs/step/max/min/piecewise, roots, logs or 1/x)."""
    for sub in sp.preorder_traversal(expr):
        if sub.is_Atom or sub.is_Add or sub.is_Mul:
            continue
        if not any(program.kind(s.name) == "vector" for s in sub.free_symbols):
            continue
        if sub.is_Pow and sub.exp.is_Integer and sub.exp >= 0:
            continue
        if sub.func in SYMPY_HEADS and SYMPY_HEADS[sub.func] in ANALYTIC:
            continue
        return False
    return True
