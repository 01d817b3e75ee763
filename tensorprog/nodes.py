"""The node kinds of the Tensor Program IR (TP4 Definition 7.1) as plain data, and the helpers
every walker over them shares.

* :func:`dispatch` / :func:`node_table`: one dispatch over node kinds. A walker declares a table
  {node kind: handler}; :func:`node_table` refuses a table that misses a kind of :data:`Node`
  (so adding a kind breaks every walker that would silently skip it, at import time), and
  :func:`dispatch` raises naming the kind of anything else.
* :func:`family_name`: the Gaussian family of a matrix orientation (W and Wᵀ are different
  families, TP4 Def. 7.3 ZHat).
* :func:`last_use`: for each node, the values no later node reads (free dead values early).
* :func:`fresh_name`: a name not taken yet.

:class:`tensorprog.ir.Program` holds these nodes; everything here is re-exported by
:mod:`tensorprog.ir`.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import sympy as sp

from .errors import SourceLoc


@dataclass(frozen=True)
class InitScalar:
    name: str
    value: sp.Expr
    loc: SourceLoc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class InitVector:
    """An initial vector: Var = ``var``; ``cov`` holds (earlier initial vector, covariance)."""

    name: str
    var: sp.Expr
    cov: tuple[tuple[str, sp.Expr], ...] = ()
    loc: SourceLoc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class InitMatrix:
    """An initial n x n matrix with iid N(0, var/n) entries."""

    name: str
    var: sp.Expr
    loc: SourceLoc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class MatMul:
    name: str
    matrix: str
    vector: str
    transpose: bool = False
    loc: SourceLoc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Nonlin:
    name: str
    expr: sp.Expr
    loc: SourceLoc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Moment:
    name: str
    expr: sp.Expr
    loc: SourceLoc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ScalarOp:
    name: str
    expr: sp.Expr
    loc: SourceLoc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Param:
    """A trainable initial vector or matrix of a model description.

    ``role``: "input" (a column of the first layer, multiplied by input scalars), "output" (the
    n-scaled output vector nV, f = mean(nV * x)), "bias", "hidden" (an n x n matrix) or "vector"
    (any other trainable vector). ``lr``: the parameter's learning-rate multiplier (the update is
    ``-lr * global_lr * gradient``); the initialization multiplier is the node's variance.
    With all multipliers 1 the training program is μP (TP4, Yang & Hu, arXiv:2011.14522, Def. 5.1).
    """

    name: str
    role: str
    lr: sp.Expr = sp.Integer(1)


PARAM_ROLES = ("input", "output", "bias", "hidden", "vector")


Node = Union[InitScalar, InitVector, InitMatrix, MatMul, Nonlin, Moment, ScalarOp]  # noqa: UP007

#: Every node kind, in the order of :data:`Node`.
NODE_KINDS: tuple[type, ...] = typing.get_args(Node)

#: Every walker's handler table, by walker name (for the coverage test).
WALKERS: dict[str, Mapping[type, Callable[..., Any]]] = {}


def node_table(walker: str, handlers: Mapping[type, Callable[..., Any]]) -> dict:
    """A walker's handler table, checked to cover every node kind (else a TypeError naming the
    missing kinds: a new kind cannot be skipped silently); registered in :data:`WALKERS`."""
    missing = [k.__name__ for k in NODE_KINDS if k not in handlers]
    extra = [getattr(k, "__name__", repr(k)) for k in handlers if k not in NODE_KINDS]
    if missing or extra:
        raise TypeError(
            f"walker '{walker}': "
            + (f"no handler for {', '.join(missing)}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"handlers for non-node types {', '.join(extra)}" if extra else "")
        )
    table = dict(handlers)
    WALKERS[walker] = table
    return table


def dispatch(table: Mapping[type, Callable[..., Any]], node: Any, *context: Any) -> Any:
    """``table[kind of node](*context, node)``; a TypeError naming the kind when the table has no
    handler for it (``context`` first, so that a table of unbound methods takes ``self``)."""
    handler = table.get(type(node))
    if handler is None:
        raise TypeError(
            f"no handler for node kind {type(node).__name__} ({getattr(node, 'name', node)!r}); "
            "node kinds: " + ", ".join(k.__name__ for k in NODE_KINDS)
        )
    return handler(*context, node)


#: The kind of value each node kind defines (a table: complete by construction).
KIND_NAMES: dict[type, str] = node_table("kind_of", {
    InitScalar: "scalar", Moment: "scalar", ScalarOp: "scalar",
    InitVector: "vector", MatMul: "vector", Nonlin: "vector",
    InitMatrix: "matrix",
})  # fmt: skip


def kind_of(node: Node) -> str:
    """'scalar', 'vector' or 'matrix'."""
    kind = KIND_NAMES.get(type(node))
    return kind if kind is not None else dispatch(KIND_NAMES, node)  # raises, naming the kind


SCALAR_NODES = (InitScalar, Moment, ScalarOp)
VECTOR_NODES = (InitVector, MatMul, Nonlin)


@dataclass(frozen=True)
class MatrixRef:
    """A handle on an initial matrix: ``p.matmul(name, W, x)`` or ``p.matmul(name, W.T, x)``."""

    name: str
    transpose: bool = False

    @property
    def T(self) -> MatrixRef:  # noqa: N802 - mirrors numpy
        return MatrixRef(self.name, not self.transpose)


def dependencies(node: Node) -> list[str]:
    """Names a node reads."""
    return dispatch(_DEPENDENCIES, node)


_DEPENDENCIES = node_table("dependencies", {
    InitScalar: lambda node: [],
    InitVector: lambda node: [other for other, _ in node.cov],
    InitMatrix: lambda node: [],
    MatMul: lambda node: [node.matrix, node.vector],
    Nonlin: lambda node: sorted(s.name for s in node.expr.free_symbols),
    Moment: lambda node: sorted(s.name for s in node.expr.free_symbols),
    ScalarOp: lambda node: sorted(s.name for s in node.expr.free_symbols),
})  # fmt: skip


# ------------------------------------------------------------------------- shared helpers
def family_name(matrix: str, transpose: bool) -> str:
    """The Gaussian family of the orientation W (``transpose=False``) or Wᵀ of a matrix: every
    Ẑ^{W̄x} joins the family of W̄ (TP4 Def. 7.3 ZHat), and ZDot reads the opposite one."""
    return f"{matrix}ᵀ" if transpose else matrix


def opposite_family(matrix: str, transpose: bool) -> str:
    """The family of the other orientation (where ZDot's Stein coefficients come from)."""
    return family_name(matrix, not transpose)


def last_use(nodes: Sequence[Node], keep: Container[str] = (),
             also_reads: Sequence[Iterable[str]] | None = None) -> list[list[str]]:  # fmt: skip
    """``dead[i]``: the names whose value no node after ``nodes[i]`` reads (each name once, at
    its last reader, or at its definition when nothing reads it), except names in ``keep``.
    ``also_reads[i]``: names node i reads beyond its dependencies (an interpreter's own rule,
    e.g. the numeric engine's ZHat reads the earlier inputs of the same matrix). An interpreter
    may free them after node i, as jax's ``last_used`` does for its equations."""
    last: dict[str, int] = {}
    for i, node in enumerate(nodes):
        last[node.name] = i
        for dep in dependencies(node):
            last[dep] = i
        if also_reads is not None:
            for dep in also_reads[i]:
                last[dep] = i
    dead: list[list[str]] = [[] for _ in nodes]
    for name, i in last.items():
        if name not in keep:
            dead[i].append(name)
    return dead


def fresh_name(stem: str, *taken: Container[str], start: int = 1, sep: str = "_",
               bare: bool = False) -> str:  # fmt: skip
    """The first ``stem<sep>k`` (k = start, start + 1, ...) in none of ``taken``; with ``bare``,
    ``stem`` itself when it is free. Deterministic: the same names give the same answer."""
    if bare and not any(stem in t for t in taken):
        return stem
    k = start
    while any(f"{stem}{sep}{k}" in t for t in taken):
        k += 1
    return f"{stem}{sep}{k}"
