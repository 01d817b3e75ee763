"""mlp_program through the transformation gives the same exact limits as the hand-written
builder it replaced.

The hand-written builder (backward pass, SGD updates and the TP4 Eq. 24 expansion typed in by
hand, as mlp_program was built before it became a client of train_program) is kept here, and only
here, as an independent oracle: it shares no code with tensorprog.transforms. Expected values:
the oracle's exact limits, which must equal the generated program's exactly (same rationals),
on the configurations of the MLP test suite and on TP4 Cor. 6.2 (10 steps).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction as F

import pytest
import sympy as sp

from tensorprog.builders import mlp_program, mlp_spec
from tensorprog.ir import MatrixRef, Program, sym
from tensorprog.zcalc import derive_limit

X = sym("x")


def _loss(kind, f, y):
    if kind == "mse":
        return (f - y) ** 2 / 2, f - y
    return sp.log(1 + sp.exp(-y * f)), -y / (1 + sp.exp(y * f))


@dataclass(frozen=True)
class _Scales:
    init_var: tuple
    lr: tuple


def _scales(spec):
    per_batch = spec.batch_size if spec.batch_reduction == "mean" else 1
    return _Scales(
        tuple(s**2 for s in spec.init_multipliers),
        tuple(spec.lr * c / per_batch for c in spec.lr_multipliers),
    )


@dataclass
class _Example:
    """The program symbols of one example's forward (and backward) pass."""

    tag: str
    xi: tuple[sp.Expr, ...]
    h: dict[int, sp.Symbol]
    x: dict[int, sp.Symbol]
    f: sp.Symbol | None = None
    chi: sp.Symbol | None = None
    dh: dict[int, sp.Symbol] | None = None


class _Builder:
    def __init__(self, spec, scales: _Scales) -> None:
        self.spec = spec
        self.sc = scales
        L = spec.depth
        self.p = Program(f"mlp_depth{L}_{spec.parametrization}")
        bases = ["U"] if spec.d == 1 else [f"U{j + 1}" for j in range(spec.d)]
        self.ubases = bases
        self.U = [self.p.vector(f"{b}_0", var=scales.init_var[0]) for b in bases]
        self.nV = self.p.vector("nV_0", var=scales.init_var[L])
        self.W: dict[int, MatrixRef] = {}
        self.Wback: dict[int, MatrixRef] = {}
        for l in range(2, L + 1):
            self.W[l] = self.p.matrix(f"W{l}", var=scales.init_var[l - 1])
        for l in range(2, L + 1):
            # TP4 Eq. (20): the decoupled backward pass uses an iid copy W̃ of W₀ᵀ.
            self.Wback[l] = (
                self.p.matrix(f"Wtilde{l}", var=scales.init_var[l - 1])
                if spec.decoupled
                else self.W[l].T
            )
        # Past updates of each hidden W^l: (lr·χ_s, dh^l_s, x^{l-1}_s, tag of s).
        self.hist: dict[int, list[tuple[sp.Expr, sp.Symbol, sp.Symbol, str]]] = {
            l: [] for l in range(2, L + 1)
        }
        # For probe forward passes at initialization, and the vectors of every forward pass.
        self.U0 = list(self.U)
        self.examples: dict[str, _Example] = {}

    # A Nonlin, unless expr is already a vector of the program (a copy costs the engine work).
    def vec(self, name: str, expr: sp.Expr) -> sp.Symbol:
        if isinstance(expr, sp.Symbol) and expr.name in self.p:
            return expr
        return self.p.nonlin(name, expr)

    def phi(self, h: sp.Symbol) -> sp.Expr:
        return self.spec.activation.xreplace({X: h})

    def dphi(self, h: sp.Symbol) -> sp.Expr:
        return self.spec.derivative.xreplace({X: h})

    def forward(self, tag: str, xi: tuple[sp.Expr, ...], at_init: bool = False) -> _Example:
        """The forward pass of input xi with the current weights (``at_init``: with the initial
        weights and no output f, for feature probes)."""
        p, L = self.p, self.spec.depth
        U = self.U0 if at_init else self.U
        h = self.vec(f"h1_{tag}", sp.Add(*[c * u for c, u in zip(xi, U)]))
        ex = _Example(tag, xi, {1: h}, {})
        ex.x[1] = self.vec(f"x1_{tag}", self.phi(h))
        for l in range(2, L + 1):
            xp = ex.x[l - 1]
            # TP4 Eq. (24): W_t x = W_0 x − Σ_s lr χ_s dh_s (x_s·x)/n.
            g = p.matmul(f"Wx{l}_{tag}", self.W[l], xp)
            corr = [
                c * p.moment(f"xx{l}_{tag}__{st}", xs * xp) * dhs
                for c, dhs, xs, st in ([] if at_init else self.hist[l])
            ]
            ex.h[l] = self.vec(f"h{l}_{tag}", g - sp.Add(*corr))
            ex.x[l] = self.vec(f"x{l}_{tag}", self.phi(ex.h[l]))
        self.examples[tag] = ex
        if not at_init:
            # f = W^{L+1} x^L = mean(nV ⊙ x^L) since W^{L+1} = nV/n.
            ex.f = p.moment(f"f_{tag}", self.nV * ex.x[L])
        return ex

    def backward(self, ex: _Example) -> None:
        p, L, tag = self.p, self.spec.depth, ex.tag
        dx = self.nV  # dx^L = n ∇_{x^L} f = nV
        ex.dh = {}
        for l in range(L, 0, -1):
            ex.dh[l] = self.vec(f"dh{l}_{tag}", dx * self.dphi(ex.h[l]))
            if l >= 2:
                # (W^l_t)ᵀ dh = W_0ᵀ dh − Σ_s lr χ_s x_s (dh_s·dh)/n (TP4 Eq. 26 / Thm 6.4).
                g = p.matmul(f"Wdh{l}_{tag}", self.Wback[l], ex.dh[l])
                corr = [
                    c * p.moment(f"gg{l}_{tag}__{st}", dhs * ex.dh[l]) * xs
                    for c, dhs, xs, st in self.hist[l]
                ]
                dx = self.vec(f"dx{l - 1}_{tag}", g - sp.Add(*corr))

    def update(self, t: int, batch: list[_Example], need_next: bool) -> None:
        L, lr = self.spec.depth, self.sc.lr
        for ex in batch:
            for l in range(2, L + 1):
                self.hist[l].append((lr[l - 1] * ex.chi, ex.dh[l], ex.x[l - 1], ex.tag))
        if not need_next:
            return
        self.U = [
            self.vec(
                f"{b}_{t + 1}",
                u - sp.Add(*[lr[0] * ex.chi * ex.xi[j] * ex.dh[1] for ex in batch]),
            )
            for j, (b, u) in enumerate(zip(self.ubases, self.U))
        ]
        self.nV = self.vec(
            f"nV_{t + 1}", self.nV - sp.Add(*[lr[L] * ex.chi * ex.x[L] for ex in batch])
        )

    def build(self, probes: tuple[tuple[sp.Expr, ...], ...] = ()) -> Program:
        spec, p = self.spec, self.p
        T, B = spec.steps, spec.batch_size
        for t in range(T):
            batch = []
            for i in range(B):
                k = t * B + i
                tag = f"{t}" if B == 1 else f"{t}_{i}"
                ex = self.forward(tag, spec.inputs[k])
                loss, dloss = _loss(spec.loss, ex.f, spec.targets[k])
                ex.chi = p.scalar_op(f"chi_{tag}", dloss)
                p.scalar_op(f"loss_{tag}", loss)
                p.output(ex.f.name)
                self.backward(ex)
                batch.append(ex)
            p.output(*[f"loss_{ex.tag}" for ex in batch])
            self.update(
                t, batch, need_next=t + 1 < T or bool(spec.eval_inputs) or bool(probes)
            )
        for e, xi in enumerate(spec.eval_inputs):
            p.output(self.forward(f"{T}_{e}", xi).f)
        for k, xi in enumerate(probes):
            # Feature probes: the hidden vectors of xi before training and after the last
            # update (not outputs; the caller adds the Moments it needs).
            self.forward(f"probe{k}_init", xi, at_init=True)
            self.forward(f"probe{k}_final", xi)
        return p




def oracle_program(*args, **kwargs) -> Program:
    spec = mlp_spec(*args, **kwargs)
    return _Builder(spec, _scales(spec)).build()


CASES = [
    dict(args=(1, X, [1, -1, F(1, 2)], [1, -1, 0], F(1, 3)), kw=dict(eval_inputs=[2])),
    dict(args=(1, X**2, [1, 1], [1, 1], F(1, 50)), kw={}),
    dict(args=(2, X, [1, -1], [1, F(1, 2)], F(1, 10)), kw=dict(decoupled=True, eval_inputs=[1])),
    dict(args=(2, X, [[1, 2], [-1, 1]], [1, -1], F(1, 10)), kw=dict(eval_inputs=[[1, 1]])),
    dict(args=(2, X**2, [1, -1], [1, F(1, 2)], F(1, 20)), kw={}),
    dict(args=(3, X, [1, -1, 2, 1], [1, 0, -1, 1], F(1, 10)),
         kw=dict(batch_size=2, batch_reduction="mean", lr_multipliers=[1, 2, F(1, 2), 3])),
    dict(args=(2, X + X**2 / 4, [1, 2], [1, -1], F(1, 10)),
         kw=dict(init_multipliers=[2, F(1, 2), 1], decoupled=True)),
    dict(args=(2, X, [1, -1], [1, -1], F(1, 5)), kw=dict(loss="logistic")),
]


@pytest.mark.parametrize("case", CASES, ids=range(len(CASES)))
def test_transformation_equals_hand_written_builder(case):
    new = mlp_program(*case["args"], **case["kw"])
    old = oracle_program(*case["args"], **case["kw"])
    assert new.outputs == old.outputs
    mode = "float" if case["kw"].get("loss") == "logistic" else "exact"
    a, b = derive_limit(new, mode=mode), derive_limit(old, mode=mode)
    for o in old.outputs:
        if mode == "exact":
            assert a[o] == b[o], o
        else:
            assert float(a[o]) == pytest.approx(float(b[o]), rel=1e-12, abs=1e-14), o


def test_corollary_6_2_ten_steps_identical():
    """TP4 Cor. 6.2 (depth 1, φ = x), 10 steps: identical exact rationals from both."""
    xs = [F(1), F(-1), F(1, 2), F(2), F(-3, 2), F(1), F(1), F(-1, 3), F(1), F(2, 3)]
    ys = [F(1), F(-1), F(1, 2), F(1), F(-1), F(1, 2), F(-2), F(1), F(0), F(1, 3)]
    args = (1, X, xs, ys, F(1, 3))
    a = derive_limit(mlp_program(*args, eval_inputs=[1]))
    b = derive_limit(oracle_program(*args, eval_inputs=[1]))
    assert all(a[f"f_{t}"] == b[f"f_{t}"] and a[f"f_{t}"].is_Rational for t in range(10))
    assert a["f_10_0"] == b["f_10_0"]
