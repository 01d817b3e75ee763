"""Program keeps one source of truth, its node sequence; the networkx graph is a view derived
from it (built on first use, kept in sync by add), and a hand edit of the view is checked by
validate() and, when valid, taken into the sequence."""

from __future__ import annotations

import pytest

from tensorprog.errors import ProgramError
from tensorprog.ir import Moment, Program, check_node, sym


def small() -> Program:
    p = Program()
    p.vector("x")
    p.nonlin("y", sym("x") ** 2)
    p.moment("m", sym("y"))
    p.output("m")
    return p


def test_graph_is_derived_from_the_nodes_and_kept_in_sync():
    p = small()
    assert p._graph is None  # building and validating never needed it
    p.validate()
    assert p._graph is None
    g = p.graph
    assert list(g.nodes) == ["x", "y", "m"]
    assert set(g.edges) == {("x", "y"), ("y", "m")}
    assert all(g.nodes[n.name]["node"] is n for n in p.nodes)
    p.moment("m2", sym("x") * sym("y"))
    assert set(p.graph.edges) == {("x", "y"), ("y", "m"), ("x", "m2"), ("y", "m2")}
    assert p._unchanged_since_add()


def test_a_swapped_edge_is_a_hand_edit():
    """Same number of edges, different ones: the view no longer shows the sequence."""
    p = small()
    p.graph.remove_edge("y", "m")
    p.graph.add_edge("x", "m")
    assert not p._unchanged_since_add()


def test_a_valid_hand_edit_is_taken_into_the_sequence():
    p = small()
    p.graph.nodes["m"]["node"] = Moment("m", sym("y") * sym("x"))
    p.validate()
    assert p.node("m").expr == sym("x") * sym("y")
    assert p.nodes[-1] is p.node("m")
    assert p._unchanged_since_add()


def test_check_node_is_a_pure_function_of_the_kinds_it_reads():
    from tensorprog.ir import InitMatrix, InitVector, MatMul

    check_node(MatMul("h", "W", "x"), {"W": InitMatrix, "x": InitVector})
    with pytest.raises(ProgramError, match="'x' is a vector, not a matrix"):
        check_node(MatMul("h", "x", "W"), {"W": InitMatrix, "x": InitVector})


def test_add_trusted_appends_and_still_refuses_what_can_fail():
    p = small()
    p.add_trusted(Moment("m2", sym("x") * sym("y")), deps=("x", "y"))
    assert p.nodes[-1].name == "m2" and set(p.graph.pred["m2"]) == {"x", "y"}
    assert p._unchanged_since_add()
    p.validate()
    with pytest.raises(ProgramError, match="already defined"):
        p.add_trusted(Moment("m2", sym("x")))
    with pytest.raises(ProgramError, match="unknown name 'zz'"):
        p.add_trusted(Moment("m3", sym("zz")))
