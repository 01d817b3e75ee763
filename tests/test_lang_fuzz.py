"""Fuzzing the parser: random text, random token soup and mutated valid programs either parse
(and then print and reparse to the same Program) or raise the project's own TensorProgError --
never another exception, and never slowly.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorprog.errors import TensorProgError
from tensorprog.lang import parse, parse_expression, to_tp

SEED_PROGRAMS = [
    """scalar eta = 1/50
scalar xi0 = 1
vector U0 ~ N(0, 1)
vector nV0 ~ N(0, 1)
h0 = xi0 * U0
x0 = h0^2
f0 = mean(nV0 * x0)
chi0 = f0 - 1
nV1 = nV0 - eta * chi0 * x0
f1 = mean(nV1 * x0)
output f0, f1
""",
    """vector x ~ N(0, 1)
matrix W ~ N(0, 1/n)
a = W.T @ x
c = a^3
b = W @ c
m1 = mean(b * x)
m2 = mean(b^2)
output m1, m2
""",
    """vector a, b ~ N(0, [[1, 1/2], [1/2, 1]])
vector c ~ N(0, 2), cov(c, a) = 1/3
matrix V ~ N(0, 2/(3*n))
h = V @ c
g = relu(h) + 0.5 * tanh(a) - sqrt(abs(b)) / 2
k = mean(g * h)
output k
""",
]

TOKENS = [
    "x", "y", "W", "a", "b", "n", "T", "N", "mean", "exp", "sqrt", "relu", "cov", "vector",
    "scalar", "matrix", "output", "0", "1", "2", "1/2", "0.5", "1e-3", "10", "(", ")", "[",
    "]", ",", "=", "~", "+", "-", "*", "/", "^", "**", "@", ".", ".T", "#", "\n", "\n", " ",
]  # fmt: skip

CHARS = "xyzWabn0123456789.,()[]{}+-*/^@~=#_ \t\nNTe$!'\"\\;:<>|&%?`é→"

FAST = 5.0  # seconds; every input here is tiny, so anything slower is a hang in the making


def check(text: str) -> None:
    start = time.perf_counter()
    try:
        p = parse(text, filename="fuzz.tp")
    except TensorProgError as e:
        assert e.format()  # formatting the error must not fail either
    else:
        assert parse(to_tp(p), filename="fuzz.tp") == p
    assert time.perf_counter() - start < FAST, text


@st.composite
def mutated(draw) -> str:
    """A seed program with a few random edits: delete / insert / replace a span, duplicate or
    drop a line."""
    text = draw(st.sampled_from(SEED_PROGRAMS))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "replace", "dup-line", "drop-line"]))
        if kind in ("dup-line", "drop-line"):
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            if kind == "dup-line":
                lines.insert(draw(st.integers(0, len(lines))), lines[i])
            else:
                del lines[i]
            text = "\n".join(lines)
            continue
        i = draw(st.integers(0, len(text)))
        j = min(len(text), i + draw(st.integers(0, 4)))
        piece = draw(st.sampled_from(TOKENS)) if kind != "delete" else ""
        text = text[:i] + piece + (text[j:] if kind != "insert" else text[i:])
    return text


token_soup = st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=CHARS, max_size=60))
def test_random_text(text: str) -> None:
    check(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token_soup)
def test_token_soup(text: str) -> None:
    check(text)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_programs(text: str) -> None:
    check(text)


@settings(max_examples=40, deadline=None)
@given(st.one_of(token_soup, st.text(alphabet=CHARS, max_size=40)))
def test_parse_expression_fuzz(text: str) -> None:
    try:
        parse_expression(text)
    except TensorProgError:
        pass


def test_seed_programs_parse() -> None:
    # the mutation seeds are valid, so the mutation test explores near-valid text
    for text in SEED_PROGRAMS:
        check(text)
        parse(text)
