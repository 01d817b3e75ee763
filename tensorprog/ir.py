"""The Tensor Program IR (TP4 Definition 7.1): plain-data nodes held in a networkx DAG.

A program is a sequence of named nodes. Initial nodes (Setup 7.2):

* ``InitScalar``  -- a scalar with a deterministic limit value;
* ``InitVector``  -- an initial vector; the initial vectors are jointly Gaussian per coordinate,
  with the variance and the covariances (with earlier initial vectors) stored on the node;
* ``InitMatrix``  -- an n x n matrix with iid N(0, var/n) entries.

Instructions:

* ``MatMul``   -- ``W x`` or ``W^T x``;
* ``Nonlin``   -- a coordinatewise sympy expression of earlier vectors and scalars (a vector);
* ``Moment``   -- the coordinate average of such an expression (a scalar);
* ``ScalarOp`` -- sugar: a sympy expression of earlier scalars only (e.g. chi = f - y).

Expressions are sympy expressions whose free symbols are ``sym(name)`` of earlier nodes and whose
function heads are in :mod:`tensorprog.functions`. Interpreters (the limit engine, the finite-width
interpreter, the printer) walk ``Program.nodes`` in order.
"""

from __future__ import annotations

import keyword
from collections.abc import Iterable, Iterator, Mapping, Sequence

import networkx as nx
import sympy as sp

from .errors import ProgramError, SourceLoc
from .expr import walk
from .functions import FUNCTIONS, SYMPY_HEADS
from .gaussian import ldl_psd
from .nodes import (
    KIND_NAMES,
    NODE_KINDS,
    PARAM_ROLES,
    SCALAR_NODES,
    VECTOR_NODES,
    WALKERS,
    InitMatrix,
    InitScalar,
    InitVector,
    MatMul,
    MatrixRef,
    Moment,
    Node,
    Nonlin,
    Param,
    ScalarOp,
    dependencies,
    dispatch,
    family_name,
    fresh_name,
    kind_of,
    last_use,
    node_table,
    opposite_family,
)
from .symbols import NAME_PATTERN, RESERVED, as_number, sym
from .syntax import parse_expression

# The node kinds and walker helpers live in tensorprog.nodes, sym/as_number/RESERVED in the leaf
# module tensorprog.symbols; all stay importable from here (tensorprog.ir.sym, ir.MatMul, ...).
__all__ = [
    "NODE_KINDS", "PARAM_ROLES", "RESERVED", "SCALAR_NODES", "VECTOR_NODES", "WALKERS",
    "InitMatrix", "InitScalar", "InitVector", "MatMul", "MatrixRef", "Moment", "Node", "Nonlin",
    "Param", "Program", "ScalarOp", "as_number", "check_init_covariance", "check_node",
    "dependencies", "dispatch", "family_name", "fresh_name", "init_covariance", "kind_of",
    "last_use", "node_table", "opposite_family", "sym",
]

class Program:
    """A Tensor Program: named nodes in definition order (the one source of truth), outputs, and
    a networkx DiGraph view derived from the nodes (:attr:`graph`).

    Build it node by node; every method validates eagerly and raises ProgramError naming the node
    (and the source location when the node came from a `.tp` file). Methods that create vectors or
    scalars return the sympy symbol to use in later expressions::

        p = Program()
        x = p.vector("x")                 # x ~ N(0, 1)
        W = p.matrix("W")                 # W_ab ~ N(0, 1/n)
        a = p.matmul("a", W.T, x)
        c = p.nonlin("c", a**3)
        b = p.matmul("b", W, c)
        m1 = p.moment("m1", b * x)
        p.output("m1")
    """

    def __init__(self, name: str = "program") -> None:
        self.name = name
        # The node sequence, the name index and each node's dependencies: appended only by add(),
        # which checks every node against the ones before it (so the sequence is always valid).
        self._nodes: list[Node] = []
        self._index: dict[str, Node] = {}
        self._deps: list[frozenset[str]] = []
        self._graph: nx.DiGraph | None = None  # built on first use of .graph, then kept in sync
        self.outputs: list[str] = []
        #: Model description (forward programs to train): trainable parameters by name, and
        #: per-example input scalars in binding order. Empty for ordinary Tensor Programs.
        self.params: dict[str, Param] = {}
        self.inputs: list[str] = []

    # ----------------------------------------------------------------- reading
    @property
    def nodes(self) -> list[Node]:
        """Nodes in definition (topological) order."""
        return list(self._nodes)

    @property
    def graph(self) -> nx.DiGraph:
        """The dependency graph (an edge ``dep -> node`` for every name a node reads; the node
        object under the attribute ``"node"``), derived from the nodes on first use and then
        kept in sync by :meth:`add`. A view: edit it by hand only to have :meth:`validate`
        check the edit (a valid edit is then taken into the node sequence)."""
        if self._graph is None:
            g = nx.DiGraph()
            g.add_nodes_from((n.name, {"node": n}) for n in self._nodes)
            g.add_edges_from((d, n.name) for n, deps in zip(self._nodes, self._deps) for d in deps)
            self._graph = g
        return self._graph

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def node(self, name: str) -> Node:
        try:
            return self._index[name]
        except (KeyError, TypeError):
            raise ProgramError(f"unknown name '{name}'") from None

    def kind(self, name: str) -> str:
        return kind_of(self.node(name))

    def names(self, kind: str | None = None) -> list[str]:
        return [n.name for n in self._nodes if kind is None or kind_of(n) == kind]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Program):
            return NotImplemented
        return (
            self.nodes == other.nodes
            and self.outputs == other.outputs
            and self.params == other.params
            and self.inputs == other.inputs
        )

    def __repr__(self) -> str:
        return f"Program({self.name!r}, {len(self)} nodes, outputs={self.outputs})"

    # ----------------------------------------------------------------- building
    def add(self, node: Node) -> Node:
        """Append a node after validating it against the nodes already present."""
        self._check_new_name(node.name, node.loc)
        deps = dependencies(node)
        index = self._index
        for dep in deps:
            if dep not in index:
                raise ProgramError(
                    f"'{node.name}' uses unknown name '{dep}'",
                    loc=node.loc,
                    node=node.name,
                    hint=f"define '{dep}' before '{node.name}'",
                )
        reads = frozenset(deps)
        check_node(node, {d: type(index[d]) for d in reads})
        self._nodes.append(node)
        self._index[node.name] = node
        self._deps.append(reads)
        if self._graph is not None:  # keep the derived view in sync
            self._graph.add_node(node.name, node=node)
            self._graph.add_edges_from((d, node.name) for d in reads)
        return node

    def add_trusted(self, node: Node, deps: Iterable[str] | None = None) -> Node:
        """Append a node that is well-typed by construction (program transformations that
        generate nodes from their own symbols and whitelisted heads), skipping the type rules,
        the dominant cost of :meth:`add` on long programs. What can still fail is checked: the
        name is new and every dependency exists (else the usual :meth:`add` error). ``deps``:
        the names the node reads, when the caller knows them (else computed)."""
        index = self._index
        reads = frozenset(dependencies(node) if deps is None else deps)
        if node.name in index or not all(d in index for d in reads):
            return self.add(node)  # raises the usual "already defined" / "unknown name" error
        self._nodes.append(node)
        index[node.name] = node
        self._deps.append(reads)
        if self._graph is not None:  # keep the derived view in sync
            self._graph.add_node(node.name, node=node)
            self._graph.add_edges_from((d, node.name) for d in reads)
        return node

    def _unchanged_since_add(self) -> bool:
        """True unless the :attr:`graph` view was edited by hand: then it no longer shows
        exactly the node sequence (the same node objects, and each node's dependencies)."""
        g = self._graph
        if g is None:
            return True  # never built, so never edited; the sequence itself is append-only
        if g.number_of_nodes() != len(self._nodes):
            return False
        for node, deps in zip(self._nodes, self._deps):
            attrs = g.nodes.get(node.name)
            if attrs is None or attrs.get("node") is not node or g.pred[node.name].keys() != deps:
                return False
        return True

    def scalar(self, name: str, value, *, loc: SourceLoc | None = None) -> sp.Symbol:
        """An initial scalar with limit ``value`` (int/Fraction/sympy Rational stay exact)."""
        self.add(InitScalar(name, _number(value, name, loc), loc))
        return sym(name)

    def vector(
        self,
        name: str,
        var=1,
        cov: dict[str, object] | None = None,
        *,
        loc: SourceLoc | None = None,
    ) -> sp.Symbol:
        """An initial vector with coordinates ~ N(0, var), covariance ``cov[other]`` with earlier
        initial vectors (0 with the rest)."""
        pairs = tuple((o, _number(v, name, loc)) for o, v in (cov or {}).items())
        self.add(InitVector(name, _number(var, name, loc), pairs, loc))
        return sym(name)

    def vectors(
        self, names: Sequence[str], cov, *, loc: SourceLoc | None = None
    ) -> tuple[sp.Symbol, ...]:
        """Jointly Gaussian initial vectors with covariance matrix ``cov`` (list of rows)."""
        k = len(names)
        rows = [list(r) for r in cov]
        if len(rows) != k or any(len(r) != k for r in rows):
            raise ProgramError(
                f"covariance of {', '.join(names)} must be a {k}x{k} matrix", loc=loc
            )
        vals = [[_number(v, names[0], loc) for v in r] for r in rows]
        for i in range(k):
            for j in range(i):
                if vals[i][j] != vals[j][i]:
                    raise ProgramError(
                        f"covariance matrix is not symmetric: entry ({i + 1},{j + 1}) is "
                        f"{vals[i][j]} but ({j + 1},{i + 1}) is {vals[j][i]}",
                        loc=loc,
                        hint="make the matrix symmetric",
                    )
        for i, name in enumerate(names):
            self.add(
                InitVector(
                    name, vals[i][i], tuple((names[j], vals[i][j]) for j in range(i)), loc
                )
            )
        return tuple(sym(n) for n in names)

    def matrix(self, name: str, var=1, *, loc: SourceLoc | None = None) -> MatrixRef:
        """An initial matrix with iid N(0, var/n) entries."""
        self.add(InitMatrix(name, _number(var, name, loc), loc))
        return MatrixRef(name)

    def matmul(
        self,
        name: str,
        matrix: MatrixRef | str,
        vector: sp.Symbol | str,
        transpose: bool = False,
        *,
        loc: SourceLoc | None = None,
    ) -> sp.Symbol:
        """``name = W vector`` (or ``W^T vector`` with ``W.T`` or ``transpose=True``)."""
        if isinstance(matrix, MatrixRef):
            transpose = transpose != matrix.transpose
            matrix = matrix.name
        vname = vector.name if isinstance(vector, sp.Symbol) else str(vector)
        self.add(MatMul(name, matrix, vname, transpose, loc))
        return sym(name)

    def nonlin(self, name: str, expr, *, loc: SourceLoc | None = None) -> sp.Symbol:
        """A vector defined coordinatewise by ``expr`` of earlier vectors and scalars."""
        self.add(Nonlin(name, self._expr(expr, name, loc), loc))
        return sym(name)

    def moment(self, name: str, expr, *, loc: SourceLoc | None = None) -> sp.Symbol:
        """A scalar: the coordinate average of ``expr``."""
        self.add(Moment(name, self._expr(expr, name, loc), loc))
        return sym(name)

    def scalar_op(self, name: str, expr, *, loc: SourceLoc | None = None) -> sp.Symbol:
        """A scalar computed from earlier scalars only."""
        self.add(ScalarOp(name, self._expr(expr, name, loc), loc))
        return sym(name)

    def let(self, name: str, expr, *, loc: SourceLoc | None = None) -> sp.Symbol:
        """``name = expr``: a Nonlin if ``expr`` involves a vector, else a ScalarOp."""
        e = self._expr(expr, name, loc)
        if any(s.name in self._index and self.kind(s.name) == "vector" for s in e.free_symbols):
            return self.nonlin(name, e, loc=loc)
        return self.scalar_op(name, e, loc=loc)

    # ----------------------------------------------------------------- model description
    def param_vector(
        self,
        name: str,
        var=1,
        *,
        role: str = "vector",
        lr=1,
        loc: SourceLoc | None = None,
        cov: dict[str, object] | None = None,
    ) -> sp.Symbol:
        """A trainable initial vector (coordinates ~ N(0, var), covariances ``cov`` with earlier
        initial vectors as in :meth:`vector`); see :class:`Param`."""
        v = self.vector(name, var, cov, loc=loc)
        self._add_param(name, role, lr, loc)
        return v

    def param_matrix(
        self, name: str, var=1, *, lr=1, loc: SourceLoc | None = None
    ) -> MatrixRef:
        """A trainable n x n initial matrix (entries ~ N(0, var/n)); see :class:`Param`."""
        W = self.matrix(name, var, loc=loc)
        self._add_param(name, "hidden", lr, loc)
        return W

    def input(self, *names: str, loc: SourceLoc | None = None) -> tuple[sp.Symbol, ...]:
        """Per-example input scalars, bound in this order when the model is trained.

        They are placeholders: a program with inputs is a model description, and deriving or
        simulating it needs them bound first (:meth:`bind`)."""
        out = []
        for n in names:
            self.add(InitScalar(n, sp.Integer(0), loc))
            self.inputs.append(n)
            out.append(sym(n))
        return tuple(out)

    def bind(self, values: Sequence[object] | dict[str, object]) -> Program:
        """A copy with the input scalars replaced by initial scalars of the given values (a
        sequence in input order, or a dict by name); parameters stay declared."""
        if not isinstance(values, dict):
            values = list(values)
            if len(values) != len(self.inputs):
                raise ProgramError(
                    f"{len(values)} input values for {len(self.inputs)} inputs "
                    f"({', '.join(self.inputs)})"
                )
            values = dict(zip(self.inputs, values))
        unknown = [k for k in values if k not in self.inputs]
        if unknown:
            raise ProgramError(f"'{unknown[0]}' is not an input of this model")
        missing = [k for k in self.inputs if k not in values]
        if missing:
            raise ProgramError(f"input '{missing[0]}' has no value")
        p = Program(self.name)
        for node in self.nodes:
            if node.name in values:
                node = InitScalar(node.name, _number(values[node.name], node.name, node.loc),
                                  node.loc)
            p.add(node)
        p.outputs = list(self.outputs)
        p.params = dict(self.params)
        return p

    def require_bound(self, what: str = "deriving a limit") -> None:
        """Raise ProgramError if the program still has unbound input scalars."""
        if self.inputs:
            raise ProgramError(
                f"{what} needs values for the inputs {', '.join(self.inputs)}",
                loc=self.node(self.inputs[0]).loc,
                hint="bind them with Program.bind([...]), or train the model with "
                "tensorprog.train_program",
            )

    def _add_param(self, name: str, role: str, lr, loc: SourceLoc | None) -> None:
        if role not in PARAM_ROLES:
            raise ProgramError(
                f"unknown parameter role '{role}' for '{name}'",
                loc=loc,
                hint="roles: " + ", ".join(PARAM_ROLES),
            )
        self.params[name] = Param(name, role, _number(lr, name, loc))

    def output(self, *names: str | sp.Symbol, loc: SourceLoc | None = None) -> None:
        """Mark scalars (or vectors, whose Z is then reported) as outputs."""
        for n in names:
            n = n.name if isinstance(n, sp.Symbol) else n
            self._check_output(n, loc)
            if n not in self.outputs:
                self.outputs.append(n)

    def _check_output(self, n: str, loc: SourceLoc | None) -> None:
        if n not in self._index:
            raise ProgramError(f"output names unknown '{n}'", loc=loc, hint=f"define '{n}' first")
        if self.kind(n) == "matrix":
            raise ProgramError(
                f"output '{n}' is a matrix; only scalars and vectors have limits", loc=loc
            )

    def validate(self) -> None:
        """Check the outputs and the initial covariance, and re-check a hand-edited :attr:`graph`
        view node by node. The node sequence needs no re-check: add() checked every node
        against the ones before it, and nodes are immutable."""
        if not self._unchanged_since_add():
            self._adopt_graph_edit()
        for n in self.outputs:
            self._check_output(n, None)
        check_init_covariance(self)

    def _adopt_graph_edit(self) -> None:
        """Re-check the program the edited graph describes (its node objects, in the sequence's
        order) and, when it is valid, make it the node sequence."""
        g = self.graph
        if not nx.is_directed_acyclic_graph(g):
            cycle = nx.find_cycle(g)
            path = " -> ".join(u for u, _ in cycle)
            raise ProgramError(f"the program has a cycle: {path} -> {cycle[0][0]}")
        seen = Program(self.name)
        for node in self._nodes:
            seen.add(g.nodes[node.name]["node"] if node.name in g else node)
        seen.output(*self.outputs)
        self._nodes, self._index, self._deps = seen._nodes, seen._index, seen._deps
        self._graph = None

    def copy(self) -> Program:
        p = Program(self.name)
        for node in self.nodes:
            p.add(node)
        p.outputs = list(self.outputs)
        p.params = dict(self.params)
        p.inputs = list(self.inputs)
        return p

    # ----------------------------------------------------------------- checks
    def _check_new_name(self, name: str, loc: SourceLoc | None) -> None:
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise ProgramError(
                f"'{name}' is not a valid name", loc=loc,
                hint="use ASCII letters, digits and _, not starting with a digit",
            )
        if name in RESERVED or keyword.iskeyword(name):
            raise ProgramError(
                f"'{name}' is reserved", loc=loc, hint=f"rename it, e.g. '{name}_'"
            )
        if name in self._index:
            prev = self._index[name].loc
            where = f" (first defined at {prev})" if prev else ""
            raise ProgramError(
                f"'{name}' is already defined{where}",
                loc=loc,
                node=name,
                hint="each name is assigned once; use a new name such as "
                f"'{name}_1'",
            )

    def _expr(self, expr, name: str, loc: SourceLoc | None) -> sp.Expr:
        if isinstance(expr, str):
            return parse_expression(expr, loc=loc)  # the safe parser; never sympify
        if isinstance(expr, (int, float)) and not isinstance(expr, bool):
            return as_number(expr)
        if not isinstance(expr, sp.Expr):
            raise ProgramError(
                f"'{name}': expected a sympy expression, got {type(expr).__name__}", loc=loc
            )
        # Symbols created elsewhere without real=True would silently be different names.
        bad = [s for s in expr.free_symbols if s != sym(s.name)]
        if bad:
            expr = expr.xreplace({s: sym(s.name) for s in bad})
        return expr


def _number(value, name: str, loc: SourceLoc | None) -> sp.Expr:
    try:
        return as_number(value)
    except ProgramError as e:
        raise ProgramError(f"'{name}': {e.message}", loc=loc, hint=e.hint) from None


_ALLOWED_CORE = (sp.Add, sp.Mul, sp.Pow, sp.Symbol, sp.Number, sp.NumberSymbol)


def _check_heads(expr: sp.Expr, name: str, loc: SourceLoc | None) -> None:
    for sub in walk(expr):
        if isinstance(sub, _ALLOWED_CORE) or sub.func in SYMPY_HEADS:
            continue
        if isinstance(sub, (sp.Max, sp.Min)):
            continue
        raise ProgramError(
            f"'{name}' uses {sub.func.__name__}, which is not a supported function",
            loc=loc,
            node=name,
            hint="supported: " + ", ".join(sorted(FUNCTIONS)),
        )


# ----------------------------------------------------------------------------- type rules
def check_node(node: Node, kinds: Mapping[str, type]) -> None:
    """The type rules of TP4 Def. 7.1 for one node, given the node kind (class) of every name it
    reads (``kinds``; they exist: unknown names are reported before). Raises ProgramError naming
    the node; a pure function of its arguments."""
    dispatch(_TYPE_RULES, node, kinds)


def _kind(kinds: Mapping[str, type], name: str) -> str:
    return KIND_NAMES[kinds[name]]


def _check_init_vector(kinds: Mapping[str, type], node: InitVector) -> None:
    for other, _ in node.cov:
        if kinds[other] is not InitVector:
            raise ProgramError(
                f"'{node.name}' can only be correlated with initial vectors, "
                f"not {_kind(kinds, other)} '{other}'",
                loc=node.loc,
            )
    if node.var.is_negative:
        raise ProgramError(f"variance of '{node.name}' is negative", loc=node.loc)


def _check_init_matrix(kinds: Mapping[str, type], node: InitMatrix) -> None:
    if node.var.is_negative:
        raise ProgramError(f"variance of matrix '{node.name}' is negative", loc=node.loc)


def _check_matmul(kinds: Mapping[str, type], node: MatMul) -> None:
    loc = node.loc
    mkind, vkind = _kind(kinds, node.matrix), _kind(kinds, node.vector)
    if mkind != "matrix":
        raise ProgramError(
            f"'{node.matrix}' is a {mkind}, not a matrix; "
            "only initial matrices can multiply vectors",
            loc=loc,
            node=node.name,
            hint=f"declare it with 'matrix {node.matrix} ~ N(0, 1/n)'"
            if mkind != "vector"
            else "use '*' for the coordinatewise product of vectors",
        )
    if vkind != "vector":
        raise ProgramError(
            f"MatMul needs a vector, but '{node.vector}' is a {vkind}",
            loc=loc,
            node=node.name,
            hint="multiply a scalar with '*' instead of '@'",
        )


def _check_expression(kinds: Mapping[str, type], node: Nonlin | Moment | ScalarOp) -> None:
    loc = node.loc
    names = {s.name: _kind(kinds, s.name) for s in node.expr.free_symbols}
    mats = [n for n, k in names.items() if k == "matrix"]
    if mats:
        raise ProgramError(
            f"matrix '{mats[0]}' used inside an expression",
            loc=loc,
            node=node.name,
            hint=f"matrices only appear in MatMul: '{mats[0]} @ v' or '{mats[0]}.T @ v'",
        )
    has_vec = any(k == "vector" for k in names.values())
    if isinstance(node, Nonlin) and not has_vec:
        raise ProgramError(
            f"Nonlin '{node.name}' involves no vector", loc=loc, node=node.name,
            hint="define it as a scalar (ScalarOp) instead",
        )
    if isinstance(node, ScalarOp) and has_vec:
        raise ProgramError(
            f"scalar '{node.name}' is defined from vectors",
            loc=loc,
            node=node.name,
            hint="a vector becomes a scalar only through mean(...)",
        )
    _check_heads(node.expr, node.name, loc)


def _no_rule(kinds: Mapping[str, type], node: Node) -> None:
    """InitScalar: any number (checked when it was made)."""


_TYPE_RULES = node_table("check_node", {
    InitScalar: _no_rule,
    InitVector: _check_init_vector,
    InitMatrix: _check_init_matrix,
    MatMul: _check_matmul,
    Nonlin: _check_expression,
    Moment: _check_expression,
    ScalarOp: _check_expression,
})  # fmt: skip


def init_covariance(program: Program) -> tuple[list[str], sp.Matrix]:
    """Names of the initial vectors and their joint covariance matrix."""
    names = [n.name for n in program.nodes if isinstance(n, InitVector)]
    idx = {n: i for i, n in enumerate(names)}
    C = sp.zeros(len(names), len(names))
    for node in program.nodes:
        if isinstance(node, InitVector):
            i = idx[node.name]
            C[i, i] = node.var
            for other, c in node.cov:
                C[i, idx[other]] = C[idx[other], i] = c
    return names, C


def check_init_covariance(program: Program, names: Iterable[str] | None = None) -> None:
    """Raise ProgramError unless the initial vectors' covariance is positive semidefinite."""
    vnames, C = init_covariance(program)
    try:
        ldl_psd([[C[i, j] for j in range(C.cols)] for i in range(C.rows)])
    except ValueError as e:
        loc = None
        for node in program.nodes:
            if isinstance(node, InitVector) and node.loc is not None:
                loc = node.loc
                break
        raise ProgramError(
            f"the covariance of the initial vectors is not positive semidefinite ({e})",
            loc=loc,
            hint="a covariance matrix needs |cov(a,b)| <= sqrt(var(a) var(b)) and all "
            "eigenvalues >= 0",
        ) from None
