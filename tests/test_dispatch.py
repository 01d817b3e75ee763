"""One dispatch over node kinds: every walker's table covers every kind of ``ir.Node`` (so a new
kind cannot be skipped silently), and the shared walker helpers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import tensorprog.backends.plan
import tensorprog.finite
import tensorprog.lang.printer
import tensorprog.zrules  # noqa: F401 - registers the walkers
from tensorprog.ir import (
    NODE_KINDS,
    WALKERS,
    InitMatrix,
    InitScalar,
    InitVector,
    MatMul,
    Moment,
    Node,
    Nonlin,
    Program,
    ScalarOp,
    dispatch,
    family_name,
    fresh_name,
    last_use,
    node_table,
    opposite_family,
)


def test_node_kinds_are_the_node_union():
    assert set(NODE_KINDS) == {InitScalar, InitVector, InitMatrix, MatMul, Nonlin, Moment,
                               ScalarOp}  # fmt: skip
    assert NODE_KINDS == Node.__args__


EXPECTED_WALKERS = {
    "dependencies", "kind_of", "check_node",  # ir
    "zcalculus", "finite", "printer", "degree_plan",
}  # fmt: skip


def test_every_walker_covers_every_node_kind():
    assert EXPECTED_WALKERS <= set(WALKERS)
    for name, table in WALKERS.items():
        assert set(table) == set(NODE_KINDS), name


def test_a_table_missing_a_kind_is_refused_naming_it():
    with pytest.raises(TypeError, match="walker 'partial'.*no handler for InitMatrix, MatMul"):
        node_table("partial", {k: print for k in NODE_KINDS if k not in (InitMatrix, MatMul)})
    assert "partial" not in WALKERS


def test_dispatch_names_an_unknown_kind():
    @dataclasses.dataclass(frozen=True)
    class Reshape:
        name: str

    with pytest.raises(TypeError, match="no handler for node kind Reshape \\('r'\\)"):
        dispatch(WALKERS["finite"], Reshape("r"))


def test_dispatch_passes_context_first():
    table = {k: (lambda ctx, node: (ctx, node.name)) for k in NODE_KINDS}
    assert dispatch(table, InitScalar("a", 1), "ctx") == ("ctx", "a")


def test_family_names():
    assert family_name("W", False) == "W"
    assert family_name("W", True) == "Wᵀ"
    assert opposite_family("W", False) == "Wᵀ"
    assert opposite_family("W", True) == "W"


def _chain() -> Program:
    p = Program()
    x = p.vector("x")
    W = p.matrix("W")
    h = p.matmul("h", W, x)
    g = p.nonlin("g", h**2 + x)
    p.moment("m", g * h)
    p.scalar("c", 3)
    p.output("m")
    return p


def test_last_use_by_hand():
    """x: read by h (1) and g (3); W by h (2); h by g and m (4); g by m (4); m, c unread."""
    dead = last_use(_chain().nodes)
    # nodes: x W h g m c
    assert [sorted(d) for d in dead] == [[], [], ["W"], ["x"], ["g", "h", "m"], ["c"]]
    dead = last_use(_chain().nodes, keep={"m", "c"})
    assert [sorted(d) for d in dead] == [[], [], ["W"], ["x"], ["g", "h"], []]


def test_finite_run_frees_dead_values_and_keeps_the_rest_identical():
    p = _chain()
    full = tensorprog.finite.run_finite(p, 64, rng=3)
    kept = tensorprog.finite.run_finite(p, 64, rng=3, keep={"m", "c"})
    assert set(kept) == {"m", "c"}
    assert kept["m"] == full["m"] and kept["c"] == full["c"] == 3.0
    assert isinstance(full["W"], np.ndarray)  # the default still returns every value


def test_fresh_name():
    assert fresh_name("_y", {"_y_1"}, {"_y_2"}) == "_y_3"
    assert fresh_name("_y", set(), start=4) == "_y_4"
    assert fresh_name("a", {"b"}, bare=True) == "a"
    assert fresh_name("a", {"a", "a#2"}, start=2, sep="#", bare=True) == "a#3"


def test_fresh_names_of_the_parser_skip_names_the_file_mentions():
    from tensorprog import parse

    p = parse("vector x ~ N(0, 1)\nmatrix W ~ N(0, 1/n)\n_y_1 = x\ny = mean(W @ x) * x\n")
    assert "_y_2" in p and "_y_1" in p
