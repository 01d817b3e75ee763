"""Hand-written Tensor Programs for TP4 §6 (built with the Python API, independent of the MLP
builder): one SGD step then the output on a new input, with learning rate ``eta`` and MSE loss."""

from __future__ import annotations

import sympy as sp

from tensorprog import Program


def depth1(phi, eta, xi0, y0, xi1) -> Program:
    """TP4 Thm 6.1 (with learning rate eta): f0 = f_0(xi0), f1 = f_1(xi1)."""
    x = sp.Symbol("x", real=True)
    dphi = sp.diff(phi, x)
    p = Program("depth1")
    eta_, xi0_, y0_, xi1_ = (p.scalar(n, v) for n, v in
                              [("eta", eta), ("xi0", xi0), ("y0", y0), ("xi1", xi1)])
    U0, nV0 = p.vector("U0"), p.vector("nV0")
    h0 = p.nonlin("h0", xi0_ * U0)
    x0 = p.nonlin("x0", phi.subs(x, h0))
    f0 = p.moment("f0", nV0 * x0)
    chi0 = p.scalar_op("chi0", f0 - y0_)
    nV1 = p.nonlin("nV1", nV0 - eta_ * chi0 * x0)
    U1 = p.nonlin("U1", U0 - eta_ * chi0 * xi0_ * nV0 * dphi.subs(x, h0))
    h1 = p.nonlin("h1", xi1_ * U1)
    x1 = p.nonlin("x1", phi.subs(x, h1))
    p.moment("f1", nV1 * x1)
    p.output("f0", "f1")
    return p


def depth2(phi, eta, xi0, y0, xi1, decoupled: bool) -> Program:
    """TP4 Thm 6.3 (decoupled: backprop through an independent copy Wt of Wᵀ) or Thm 6.4."""
    x = sp.Symbol("x", real=True)
    dphi = sp.diff(phi, x)
    p = Program("depth2_decoupled" if decoupled else "depth2")
    eta_, xi0_, y0_, xi1_ = (p.scalar(n, v) for n, v in
                              [("eta", eta), ("xi0", xi0), ("y0", y0), ("xi1", xi1)])
    U0, nV0 = p.vector("U0"), p.vector("nV0")
    W = p.matrix("W")
    back = p.matrix("Wt") if decoupled else W.T
    h0 = p.nonlin("h0", xi0_ * U0)
    x0 = p.nonlin("x0", phi.subs(x, h0))
    hb0 = p.matmul("hb0", W, x0)
    xb0 = p.nonlin("xb0", phi.subs(x, hb0))
    f0 = p.moment("f0", nV0 * xb0)
    chi0 = p.scalar_op("chi0", f0 - y0_)
    dhb0 = p.nonlin("dhb0", nV0 * dphi.subs(x, hb0))
    dx0 = p.matmul("dx0", back, dhb0)
    dh0 = p.nonlin("dh0", dx0 * dphi.subs(x, h0))
    nV1 = p.nonlin("nV1", nV0 - eta_ * chi0 * xb0)
    U1 = p.nonlin("U1", U0 - eta_ * chi0 * xi0_ * dh0)
    h1 = p.nonlin("h1", xi1_ * U1)
    x1 = p.nonlin("x1", phi.subs(x, h1))
    Wx1 = p.matmul("Wx1", W, x1)
    c01 = p.moment("c01", x0 * x1)
    hb1 = p.nonlin("hb1", Wx1 - eta_ * chi0 * dhb0 * c01)
    xb1 = p.nonlin("xb1", phi.subs(x, hb1))
    p.moment("f1", nV1 * xb1)
    p.output("f0", "f1")
    return p
