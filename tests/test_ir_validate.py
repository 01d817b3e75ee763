"""Program.validate() after hand edits of the graph: the fast path (nothing edited since add()
checked each node) must never hide an edit."""

import pytest

from tensorprog.errors import ProgramError
from tensorprog.ir import Moment, Program, sym


def small() -> Program:
    p = Program()
    p.vector("x")
    p.nonlin("y", sym("x") ** 2)
    p.moment("m", sym("y"))
    p.output("m")
    return p


def test_untouched_program_takes_the_fast_path():
    p = small()
    assert p._unchanged_since_add()
    p.validate()


def test_hand_added_cycle_is_found():
    p = small()
    p.graph.add_edge("m", "y")
    assert not p._unchanged_since_add()
    with pytest.raises(ProgramError, match="cycle"):
        p.validate()


def test_hand_replaced_node_is_rechecked():
    p = small()
    p.graph.nodes["m"]["node"] = Moment("m", sym("nowhere") * sym("y"))
    assert not p._unchanged_since_add()
    with pytest.raises(ProgramError, match="nowhere"):
        p.validate()


def test_hand_set_outputs_are_checked():
    p = small()
    p.outputs.append("zz")
    with pytest.raises(ProgramError, match="zz"):
        p.validate()
    p.outputs[-1] = "y"
    p.validate()
