"""Budgets: derivations that outgrow them stop with BudgetExceeded naming the node and the fix,
before the work is done (degree up front, products before they are formed)."""

from fractions import Fraction as F

import pytest
import sympy as sp

from tensorprog import BudgetExceeded, Program, SourceLoc, TensorProgError, derive_limit
from tensorprog.budget import Budget, as_budget, physical_memory_mb
from tests.test_backends import mup_depth1

x = sp.Symbol("x", real=True)


def binomial_program() -> Program:
    """u, v independent: Z of (u + v)^k has exactly k + 1 terms in the innovations."""
    p = Program()
    u, v = p.vector("u"), p.vector("v")
    p.nonlin("a3", (u + v) ** 3)
    p.nonlin("a6", (u + v) ** 6, loc=SourceLoc("net.tp", 4, 1, "a6 = (u + v)^6"))
    p.moment("m", p.nonlin("a9", (u + v) ** 9) * u)
    p.output("m")
    return p


def test_budget_from_dict_and_validation():
    b = as_budget({"max_terms": 10, "seconds": 2.5})
    assert b.max_terms == 10 and b.seconds == 2.5
    assert as_budget(None) == Budget()
    with pytest.raises(TensorProgError, match="unknown budget field"):
        as_budget({"max_term": 10})
    with pytest.raises(TensorProgError, match="positive"):
        as_budget({"max_digits": -1})
    with pytest.raises(TensorProgError, match="Budget"):
        as_budget(42)


def test_default_budget_guards_memory():
    b = Budget().resolved()
    assert 0 < b.memory_mb <= 0.7 * physical_memory_mb() + 1
    assert Budget.unlimited().resolved().memory_mb is None


@pytest.mark.parametrize("mode", ["exact", "float"])
def test_max_terms_names_the_node_and_its_location(mode):
    with pytest.raises(BudgetExceeded) as err:
        derive_limit(binomial_program(), mode=mode, budget={"max_terms": 5})
    e = err.value
    assert e.node == "a6" and e.loc is not None and e.loc.line == 4
    assert "max_terms" in str(e) and "mode='float'" in e.hint
    # within budget it runs: 4 terms for a3, 7 for a6, 10 for a9
    lim = derive_limit(binomial_program(), mode=mode, budget={"max_terms": 10})
    assert lim.stats["max_terms"] == 10


def test_max_degree_is_refused_before_any_work():
    calls = []
    with pytest.raises(BudgetExceeded) as err:
        derive_limit(binomial_program(), budget=Budget(max_degree=8),
                     progress=lambda d, t, n: calls.append(n))
    assert err.value.node == "a9" and "degree 9" in str(err.value)
    assert calls == []  # refused from the degree plan, before the first node


def test_max_digits_on_scalars_and_coefficients():
    p = Program()
    s = p.scalar("s", 3)
    big = p.scalar_op("big", s**60)  # 3^60 has 29 digits
    u = p.vector("u")
    p.moment("m", big * u**2)
    with pytest.raises(BudgetExceeded) as err:
        derive_limit(p, budget={"max_digits": 20})
    assert err.value.node == "big"
    assert derive_limit(p, budget={"max_digits": 40})["m"] == 3**60


def test_seconds_and_memory_limits():
    with pytest.raises(BudgetExceeded, match="seconds"):
        derive_limit(binomial_program(), budget={"seconds": 1e-9})
    with pytest.raises(BudgetExceeded, match="memory_mb"):
        derive_limit(binomial_program(), budget={"memory_mb": 1})


def test_big_product_refused_before_it_is_formed():
    """f_6 of the depth-1 x² net multiplies ~30k-digit polynomials packed into ~16k slots
    (several hundred MB): with only 40 MB of headroom the product is refused up front."""
    from tensorprog.budget import rss_mb

    p = mup_depth1(x**2, F(1, 50), 6)
    with pytest.raises(BudgetExceeded) as err:
        derive_limit(p, budget={"memory_mb": rss_mb() + 40})
    assert "next product" in str(err.value) and err.value.node.endswith("_6")


def test_progress_callback_is_kept():
    seen = []
    p = binomial_program()
    derive_limit(p, progress=lambda done, total, name: seen.append((done, total, name)))
    n = len(p.nodes)
    assert seen[0] == (0, n, "u") and seen[-1] == (n, n, "")
    assert [s[0] for s in seen] == list(range(n + 1))
