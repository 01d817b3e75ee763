"""Hand-written μP SGD programs for the benchmarks (TP4 §6; Chen et al. App. B; docs/references.md).

Written with the Program API directly (independent of tensorprog.builders) so that the benchmark
measures the engine on a fixed, reviewable program. Batch 1, MSE loss (χ = f − y), all μP
constants 1: U (the column of W¹) and nV = n·W^{L+1} are N(0, 1) initial vectors, W², …, W^L are
initial matrices with σ² = 1. ``W^l_t x = W^l_0 x − η Σ_{s<t} χ_s dh^l_s (x^{l−1}_s·x)/n`` (TP4
Eq. 24) becomes a MatMul, Moments for the inner products, and one Nonlin.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from tensorprog import Program, sym

X = sym("x")


def mup_sgd(
    depth: int,
    phi: sp.Expr,
    steps: int,
    lr,
    inputs: Sequence | None = None,
    targets: Sequence | None = None,
) -> Program:
    """f_0 … f_steps of SGD on a depth-``depth`` μP MLP with activation ``phi`` (a sympy expression
    in ``sym("x")``): f_t is the output on input ξ_t after t updates on (ξ_s, y_s), s < t.
    Default data: ξ_t = (−1)^t, y_t = 1. Outputs ``f_0 … f_steps``."""
    xs = list(inputs) if inputs is not None else [(-1) ** t for t in range(steps + 1)]
    ys = list(targets) if targets is not None else [1] * (steps + 1)
    dphi = sp.diff(phi, X)
    p = Program(f"mup_depth{depth}_{steps}")
    eta = p.scalar("eta", lr)
    U, nV = p.vector("U_0"), p.vector("nV_0")
    W = {l: p.matrix(f"W{l}") for l in range(2, depth + 1)}
    hist: dict[str, list] = {"x": [], "dh": [], "chi": []}  # per step: x^l, dh^l lists
    for t in range(steps + 1):
        xi = p.scalar(f"xi_{t}", xs[t])
        # forward
        h = {1: p.nonlin(f"h1_{t}", xi * U)}
        x = {1: p.nonlin(f"x1_{t}", phi.subs(X, h[1]))}
        for l in range(2, depth + 1):
            g = p.matmul(f"g{l}_{t}", W[l], x[l - 1])
            corr = []
            for s in range(t):
                c = p.moment(f"cx{l}_{s}_{t}", hist["x"][s][l - 1] * x[l - 1])
                corr.append(hist["chi"][s] * c * hist["dh"][s][l])
            h[l] = p.nonlin(f"h{l}_{t}", g - eta * sp.Add(*corr)) if t else g
            x[l] = p.nonlin(f"x{l}_{t}", phi.subs(X, h[l]))
        f = p.moment(f"f_{t}", nV * x[depth])
        if t == steps:
            break
        chi = p.scalar_op(f"chi_{t}", f - p.scalar(f"y_{t}", ys[t]))
        # backward (scaled gradients: dx^L = nV, dh = dx ⊙ φ'(h), dx^{l−1} = (W^l_t)ᵀ dh^l)
        dh = {depth: p.nonlin(f"dh{depth}_{t}", nV * dphi.subs(X, h[depth]))}
        for l in range(depth, 1, -1):
            g = p.matmul(f"gt{l}_{t}", W[l].T, dh[l])
            corr = []
            for s in range(t):
                c = p.moment(f"cd{l}_{s}_{t}", hist["dh"][s][l] * dh[l])
                corr.append(hist["chi"][s] * c * hist["x"][s][l - 1])
            dx = p.nonlin(f"dx{l - 1}_{t}", g - eta * sp.Add(*corr)) if t else g
            dh[l - 1] = p.nonlin(f"dh{l - 1}_{t}", dx * dphi.subs(X, h[l - 1]))
        hist["x"].append(x)
        hist["dh"].append(dh)
        hist["chi"].append(chi)
        # SGD updates of the initial vectors
        nV = p.nonlin(f"nV_{t + 1}", nV - eta * chi * x[depth])
        U = p.nonlin(f"U_{t + 1}", U - eta * chi * xi * dh[1])
    p.output(*[f"f_{t}" for t in range(steps + 1)])
    return p
