"""Model descriptions in `.tp` (param / input / inline @ and mean) and the example forward
models of programs/models/: structure (parameters with roles and lr multipliers, inputs,
outputs, node kinds with the generated intermediate names), the round trip through the
printer, and a few forward limits derived by hand in the docstrings.
"""

from __future__ import annotations

import os
from fractions import Fraction

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorprog import derive_limit
from tensorprog.ir import (
    PARAM_ROLES,
    InitMatrix,
    InitScalar,
    InitVector,
    MatMul,
    Moment,
    Nonlin,
    Param,
    Program,
    ScalarOp,
    sym,
)
from tensorprog.lang import load, parse, to_tp

MODELS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "programs", "models")  # fmt: skip

ISSUE_MODEL = """\
param vector U ~ N(0, 1)        # trainable initial vector
param matrix W ~ N(0, 1/n)      # trainable hidden matrix
param vector nV ~ N(0, 1)
input xi1, xi2, xi3             # per-example scalars, bound in this order
s1 = xi1 * U
s2 = W @ s1 + xi2 * U
s3 = W @ s2 + xi3 * U
f = mean(nV * s3)
output f
"""


def _kinds(p: Program) -> list[tuple[str, str]]:
    return [(type(n).__name__, n.name) for n in p.nodes]


def test_issue_model_matches_the_python_api() -> None:
    """The `.tp` model equals the same model built with Program's model methods, with the
    inline products named _s2_1 and _s3_1."""
    q = Program("model")
    U = q.param_vector("U")
    W = q.param_matrix("W")
    nV = q.param_vector("nV")
    xi1, xi2, xi3 = q.input("xi1", "xi2", "xi3")
    s1 = q.nonlin("s1", xi1 * U)
    m = q.matmul("_s2_1", W, s1)
    s2 = q.nonlin("s2", m + xi2 * U)
    m = q.matmul("_s3_1", W, s2)
    s3 = q.nonlin("s3", m + xi3 * U)
    q.moment("f", nV * s3)
    q.output("f")
    p = parse(ISSUE_MODEL, "model.tp")
    assert p == q
    assert p.params == {"U": Param("U", "vector"), "W": Param("W", "hidden"),
                        "nV": Param("nV", "vector")}  # fmt: skip
    assert p.inputs == ["xi1", "xi2", "xi3"]
    # every node, generated ones included, carries file:line:col
    loc = p.node("_s2_1").loc
    assert (loc.file, loc.line, loc.col) == ("model.tp", 6, 6)  # the 'W' of 'W @ s1'
    assert p.node("s2").loc.col == 1


def test_param_attributes_and_defaults() -> None:
    p = parse(
        "param vector b ~ N(0, 1) role=bias lr=1/2\n"
        "param vector c ~ N(0, 2) lr=3 role=output\n"
        "param matrix W, V ~ N(0, 2/n) lr=1/4\n"
        "vector frozen ~ N(0, 1)\nmatrix F ~ N(0, 1/n)\n"
    )
    assert p.params == {
        "b": Param("b", "bias", sp.Rational(1, 2)),
        "c": Param("c", "output", sp.Integer(3)),
        "W": Param("W", "hidden", sp.Rational(1, 4)),
        "V": Param("V", "hidden", sp.Rational(1, 4)),
    }
    assert "frozen" not in p.params and "F" not in p.params  # plain declarations stay frozen
    assert p.node("c") == InitVector("c", sp.Integer(2))
    assert p.node("W") == InitMatrix("W", sp.Integer(2))


def test_inline_matmul_forms() -> None:
    """`@` binds like `*` (Python): W @ x * 2 is (W @ x) * 2; a parenthesized operand becomes a
    Nonlin; W.T works inline; a whole right-hand side is one MatMul named by the target."""
    p = parse(
        "vector x ~ N(0, 1)\nmatrix W ~ N(0, 1/n)\nmatrix W2 ~ N(0, 1/n)\n"
        "h = W @ x\n"
        "g = W @ x * 2 - W.T @ h\n"
        "k = h + W2 @ (h^2)\n"
        "j = W @ (W2 @ x)\n"
        "m = mean(x * (W @ x)) + mean(x^2)\n"
    )
    x, h = sym("x"), sym("h")
    assert p.node("h") == MatMul("h", "W", "x")
    assert _kinds(p)[3:] == [
        ("MatMul", "h"), ("MatMul", "_g_1"), ("MatMul", "_g_2"), ("Nonlin", "g"),
        ("Nonlin", "_k_1"), ("MatMul", "_k_2"), ("Nonlin", "k"),
        ("MatMul", "_j_1"), ("MatMul", "j"),
        ("MatMul", "_m_1"), ("Moment", "_m_2"), ("Moment", "_m_3"), ("ScalarOp", "m"),
    ]  # fmt: skip
    assert p.node("_g_2") == MatMul("_g_2", "W", "h", transpose=True)
    assert p.node("g").expr == 2 * sym("_g_1") - sym("_g_2")
    assert p.node("_k_1") == Nonlin("_k_1", h**2)
    assert p.node("j") == MatMul("j", "W", "_j_1")
    assert p.node("_m_2") == Moment("_m_2", x * sym("_m_1"))
    assert p.node("m") == ScalarOp("m", sym("_m_2") + sym("_m_3"))


def test_generated_names_avoid_every_name_in_the_file() -> None:
    """_h_1 is used later in the file and _h_2 is an earlier name: the generator skips both."""
    p = parse(
        "vector x ~ N(0, 1)\nmatrix W ~ N(0, 1/n)\n_h_2 = x + 1\n"
        "h = 1 + W @ x\n_h_1 = h * 2\n"
    )
    assert p.node("_h_3") == MatMul("_h_3", "W", "x")
    assert p.node("_h_1").expr == 2 * sym("h")


# ---------------------------------------------------------------- the example models
EXPECTED = {
    "residual": dict(
        params={"U": "input", "W1": "hidden", "W2": "hidden", "W3": "hidden", "nV": "output"},
        inputs=["xi"], outputs=["f"],
        kinds=["Nonlin h0"] + [f"Nonlin _h{k}_1 MatMul _h{k}_2 Nonlin h{k}" for k in (1, 2, 3)]
        + ["Moment f"],
    ),
    "rnn": dict(
        params={"U": "input", "W": "hidden", "nV": "output"},
        inputs=["xi1", "xi2", "xi3"], outputs=["f"],
        kinds=["Nonlin s1", "Nonlin _s2_1 MatMul _s2_2 Nonlin s2",
               "Nonlin _s3_1 MatMul _s3_2 Nonlin s3", "Moment f"],
    ),
    "rnn_linear": dict(  # the README's model: roles left to the default
        params={"U": "vector", "W": "hidden", "nV": "vector"},
        inputs=["xi1", "xi2", "xi3"], outputs=["f"],
        kinds=["Nonlin s1", "MatMul _s2_1 Nonlin s2", "MatMul _s3_1 Nonlin s3", "Moment f"],
    ),
    "mlp_bias": dict(
        params={"U": "input", "b1": "bias", "W": "hidden", "b2": "bias", "nV": "output"},
        inputs=["xi"], outputs=["f"],
        kinds=["Nonlin h1", "Nonlin _h2_1 MatMul _h2_2 Nonlin h2", "Moment f"],
    ),
    "two_outputs": dict(
        params={"U1": "input", "U2": "input", "W": "hidden", "nV1": "output", "nV2": "output"},
        inputs=["xi1", "xi2"], outputs=["f1", "f2"],
        kinds=["Nonlin h1", "Nonlin _x2_1 MatMul _x2_2 Nonlin x2", "Moment f1", "Moment f2"],
    ),
    "normalized": dict(
        params={"U": "input", "W": "hidden", "nV": "output"},
        inputs=["xi"], outputs=["f"],
        kinds=["Nonlin h1", "Moment _x1_1 Nonlin x1", "MatMul h2", "Moment f"],
    ),
    "mlp3": dict(
        params={"U": "input", "W2": "hidden", "W3": "hidden", "nV": "output"},
        inputs=["xi"], outputs=["f"],
        kinds=["Nonlin h1", "MatMul h2", "MatMul h3", "Moment f"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_model_structure(name: str) -> None:
    p = load(os.path.join(MODELS, f"{name}.tp"))
    want = EXPECTED[name]
    assert {k: v.role for k, v in p.params.items()} == want["params"]
    assert all(v.lr == 1 for v in p.params.values())  # muP: every multiplier 1
    assert p.inputs == want["inputs"] and p.outputs == want["outputs"]
    declared = [n for n in p.nodes if isinstance(n, (InitVector, InitMatrix, InitScalar))]
    assert {n.name for n in declared} - set(p.inputs) - set(p.params) <= {"eps"}
    computed = " ".join(f"{k} {n}" for k, n in _kinds(p)[len(declared):])
    assert computed == " ".join(want["kinds"])
    assert all(n.loc is not None and n.loc.file.endswith(f"{name}.tp") for n in p.nodes)
    assert parse(to_tp(p), filename=f"{name}.tp") == p


def test_example_models_exist_and_are_all_checked() -> None:
    files = sorted(f[:-3] for f in os.listdir(MODELS) if f.endswith(".tp"))
    assert files == sorted(EXPECTED)


def _bound_with(name: str, extra: dict[str, str]) -> dict:
    """The model bound to inputs all 1, with extra Moments (text) added, derived exactly."""
    model = load(os.path.join(MODELS, f"{name}.tp"))
    p = model.bind([1] * len(model.inputs))
    for k, text in extra.items():
        p.moment(k, text)  # text goes through the safe expression parser
        p.output(k)
    return derive_limit(p).outputs


def test_forward_limits_by_hand() -> None:
    """Inputs 1. Residual: h1 = U + W1 U^2 with Z^{W1 U^2} = Zhat, independent of U, of variance
    E[U^4] = 3 (W1^T never used: no ZDot), so E[h1^2] = 1 + 3 = 4. RNN: likewise E[s2^2] =
    E[s1^4] + E[U^2] = 4. Normalized: E[x1^2] = E[U^2] / (E[U^2] + 1/100) = 100/101, and
    E[h2^2] = E[x1^2] (W ~ N(0, 1/n)). The forward outputs f = mean(nV * .) are 0 at init
    (nV is independent of the rest)."""
    assert _bound_with("residual", {"q": "h1^2"}) == {"f": 0, "q": 4}
    assert _bound_with("rnn", {"q": "s2^2"}) == {"f": 0, "q": 4}
    out = _bound_with("normalized", {"q1": "x1^2", "q2": "h2^2"})
    assert out == {"f": 0, "q1": sp.Rational(100, 101), "q2": sp.Rational(100, 101)}


# ---------------------------------------------------------------- round trip of models
@st.composite
def models(draw) -> Program:
    """Random model descriptions built with the Python API: parameters with random roles and
    lr multipliers, frozen vectors, inputs, and generated-looking intermediate names."""
    p = Program("random")
    vectors: list[str] = []
    scalars: list[str] = []
    matrices: list[str] = []
    for i in range(draw(st.integers(1, 3))):
        role = draw(st.sampled_from([r for r in PARAM_ROLES if r != "hidden"]))
        lr = draw(st.fractions(min_value=0, max_value=4, max_denominator=5))
        if draw(st.booleans()):
            p.param_vector(f"v{i}", draw(st.integers(1, 3)), role=role, lr=lr)
        else:
            p.vector(f"v{i}", draw(st.integers(0, 3)))
        vectors.append(f"v{i}")
    for i in range(draw(st.integers(1, 2))):
        lr = draw(st.sampled_from([1, Fraction(1, 2), 2]))
        if draw(st.booleans()):
            p.param_matrix(f"W{i}", draw(st.sampled_from([1, 2, Fraction(1, 2)])), lr=lr)
        else:
            p.matrix(f"W{i}")
        matrices.append(f"W{i}")
    n_in = draw(st.integers(0, 3))
    if n_in:
        p.input(*[f"xi{i}" for i in range(n_in)])
        scalars += [f"xi{i}" for i in range(n_in)]
    for k in range(draw(st.integers(1, 6))):
        step = draw(st.sampled_from(["matmul", "nonlin", "moment"]))
        v = sym(draw(st.sampled_from(vectors)))
        if step == "matmul":
            vectors.append(str(p.matmul(f"_h{k}_1", draw(st.sampled_from(matrices)), v,
                                        draw(st.booleans()))))  # fmt: skip
        elif step == "nonlin":
            c = sym(draw(st.sampled_from(scalars))) if scalars else 2
            vectors.append(str(p.nonlin(f"h{k}", c * v + v**2)))
        else:
            scalars.append(str(p.moment(f"m{k}", v * sym(draw(st.sampled_from(vectors))))))
    p.output(*[s for s in scalars if s.startswith("m")][:2])
    return p


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models())
def test_random_models_round_trip(p: Program) -> None:
    text = to_tp(p)
    q = parse(text, filename="random.tp")
    assert q == p, text
    assert q.params == p.params and q.inputs == p.inputs
    assert to_tp(q) == text


@st.composite
def inline_sources(draw) -> str:
    """Random `.tp` text whose assignments use @, W.T @ (...) and mean(...) inside expressions."""
    lines = ["param vector U ~ N(0, 1) role=input", "param matrix W ~ N(0, 1/n)",
             "matrix V ~ N(0, 2/n)", "input xi", "h0 = xi * U"]  # fmt: skip
    vectors = ["U", "h0"]
    for k in range(1, draw(st.integers(1, 5)) + 1):
        def vterm() -> str:
            v = draw(st.sampled_from(vectors))
            m = draw(st.sampled_from(["W", "V", "W.T", "V.T"]))
            return draw(st.sampled_from([
                f"{m} @ {v}", f"{m} @ ({v}^2)", f"{m} @ ({m} @ {v})", f"xi * {v}",
                f"{v} * mean({v}^2)", f"({m} @ {v}) * 2",
            ]))  # fmt: skip
        terms = [vterm() for _ in range(draw(st.integers(1, 3)))]
        lines.append(f"h{k} = " + " + ".join(terms))
        vectors.append(f"h{k}")
    lines.append(f"f = mean(U * {vectors[-1]}) + mean({vectors[-1]}^2)")
    lines.append("output f")
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inline_sources())
def test_inline_products_round_trip(text: str) -> None:
    """parse(print(p)) == p for programs with generated intermediate names; every generated
    node is a MatMul, Nonlin or Moment with a location on its own line of the source."""
    p = parse(text, filename="inline.tp")
    assert parse(to_tp(p), filename="inline.tp") == p
    for node in p.nodes:
        if node.name.startswith("_"):
            assert isinstance(node, (MatMul, Nonlin, Moment)) and node.loc is not None
            target = node.name.split("_")[1]
            assert text.splitlines()[node.loc.line - 1].startswith(f"{target} = ")
