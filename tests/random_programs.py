"""A hypothesis strategy for small random Tensor Programs with polynomial nonlinearities:
MatMuls by W and Wᵀ, Nonlins mixing vectors and scalars, Moments, and scalar reuse."""

from __future__ import annotations

from fractions import Fraction as F

import sympy as sp
from hypothesis import strategies as st

from tensorprog import Program

COEFS = [F(1), F(-1), F(1, 2), F(-1, 3), F(2)]


@st.composite
def programs(draw, max_steps: int = 7, max_degree: int = 4) -> Program:
    p = Program("random")
    deg: dict[str, int] = {}
    vecs: list[sp.Symbol] = []
    scalars: list[sp.Symbol] = []
    k = draw(st.integers(1, 2))
    if k == 2 and draw(st.booleans()):
        c = draw(st.sampled_from([F(1, 2), F(-1, 3), F(1)]))
        vecs += p.vectors(["v0", "v1"], [[1, c], [c, 1]])
    else:
        vecs += [p.vector(f"v{i}", draw(st.sampled_from([1, 2, F(1, 2)]))) for i in range(k)]
    for v in vecs:
        deg[v.name] = 1
    mats = [p.matrix(f"W{i}", draw(st.sampled_from([1, 2, F(1, 2)])))
            for i in range(draw(st.integers(1, 2)))]
    scalars.append(p.scalar("s0", draw(st.sampled_from(COEFS))))
    # degree of Z^{W̄y} is bounded by the degrees of the opposite orientation's inputs
    inputs: dict[tuple[str, bool], list[str]] = {}
    for i in range(draw(st.integers(3, max_steps))):
        op = draw(st.sampled_from(["chain", "matmul", "nonlin", "moment", "scalar"]))
        name = f"n{i}"
        if op == "chain":
            # a = W̄ v, b = φ(a, u), c = W̄ᵀ b: the pattern whose ZDot is nonzero (TP4 §6.3)
            W = draw(st.sampled_from(mats))
            t = draw(st.booleans())
            v, u = draw(st.sampled_from(vecs)), draw(st.sampled_from(vecs))
            s = draw(st.sampled_from(scalars))
            da = max([1] + [deg[y] for y in inputs.get((W.name, not t), [])])
            a = p.matmul(f"{name}a", W.T if t else W, v)
            inputs.setdefault((W.name, t), []).append(v.name)
            deg[a.name] = da
            if 2 * da <= max_degree and draw(st.booleans()):
                b, db = p.nonlin(f"{name}b", a**2 + s * a), 2 * da
            else:
                b, db = p.nonlin(f"{name}b", s * a + u), max(da, deg[u.name])
            deg[b.name] = db
            dc = max([1] + [deg[y] for y in inputs.get((W.name, t), [])])
            c = p.matmul(f"{name}c", W if t else W.T, b)
            inputs.setdefault((W.name, not t), []).append(b.name)
            deg[c.name] = dc
            vecs += [a, b, c]
        elif op == "matmul":
            W = draw(st.sampled_from(mats))
            # Prefer the newest vectors and the orientation not used last, so that chains
            # Wᵀy -> φ -> W(...) whose ZDot is nonzero are common.
            v = draw(st.sampled_from(vecs[-2:] if draw(st.booleans()) else vecs))
            t = (W.name, False) not in inputs if (W.name, True) in inputs else draw(st.booleans())

            d = max([1] + [deg[y] for y in inputs.get((W.name, not t), [])])
            p.matmul(name, W.T if t else W, v)
            inputs.setdefault((W.name, t), []).append(v.name)
            deg[name] = d
            vecs.append(sp.Symbol(name, real=True))
        elif op == "nonlin":
            a, b = draw(st.sampled_from(vecs)), draw(st.sampled_from(vecs))
            s = draw(st.sampled_from(scalars))
            form = draw(st.sampled_from(["prod", "square", "lin", "cube"]))
            if form == "prod":
                e, d = a * b, deg[a.name] + deg[b.name]
            elif form == "square":
                e, d = a**2 - s, 2 * deg[a.name]
            elif form == "cube":
                e, d = a**3 / 3 - a, 3 * deg[a.name]
            else:
                e, d = a + s * b, max(deg[a.name], deg[b.name])
            if d > max_degree:
                e, d = s * a + b, max(deg[a.name], deg[b.name])
            vecs.append(p.nonlin(name, e))
            deg[name] = d
        elif op == "moment":
            a, b = draw(st.sampled_from(vecs)), draw(st.sampled_from(vecs))
            scalars.append(p.moment(name, a * b))
        else:
            s1, s2 = draw(st.sampled_from(scalars)), draw(st.sampled_from(scalars))
            scalars.append(p.scalar_op(name, s1 * s2 / 4 + s1 - 1))
    # every vector gets a second moment with its predecessor, so the limit is checked everywhere
    for j, v in enumerate(vecs):
        u = vecs[j - 1] if j else v
        p.moment(f"m_{v.name}", v * u)
    p.output(*[n for n in p.names("scalar") if p.kind(n) == "scalar"])
    return p
