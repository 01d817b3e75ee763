"""One numeric pass of the Z-calculus (TP4 Definition 7.3) over a particle set.

The same rules as :mod:`tensorprog.zcalc`, with every Z held as its values on the particles
and every expectation a weighted particle sum:

* ZInit    -- the initial vectors: one Gaussian family with their exact covariance;
* ZNonlin  -- Z^{φ(x..;θ..)} = φ(Z^x..; θ̊..), evaluated particle by particle;
* ZMoment  -- θ̊ = E φ(Z^x..; θ̊..), the particle average;
* ZHat     -- Ẑ^{W̄x} joins the family of W̄ with Cov(Ẑ^{W̄x}, Ẑ^{W̄y}) = σ² E[Z^x Z^y],
  drawn conditionally on the family's earlier atoms (family.py);
* ZDot     -- Ż^{W̄x} = σ² Σ_i e_i Z^{y_i} with e from Stein's lemma on the opposite family.

Vectors are freed after their last use (MatMul inputs live as long as their matrix is used, since
ZHat and ZDot of later MatMuls read them), so memory is the live set times the particle count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..errors import ProgramError
from ..functions import SYMPY_HEADS
from ..ir import (
    InitMatrix,
    InitScalar,
    InitVector,
    MatMul,
    Moment,
    Nonlin,
    Program,
    ScalarOp,
    dispatch,
    family_name,
    init_covariance,
    kind_of,
    last_use,
    node_table,
    opposite_family,
)
from .algebra import evaluate
from .family import NumericFamily, pivot_count
from .particles import PROBE_RADII, ParticleSet

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    """What a pass needs besides the particles: the node list and when to free each vector."""

    program: Program
    init_names: tuple[str, ...]
    init_cov: np.ndarray
    free_after: tuple[tuple[str, ...], ...]  # vectors to drop after node i
    families_done: tuple[tuple[str, ...], ...]  # matrices whose families to drop after node i
    init_rank: int
    matmuls: int
    smooth: bool  # every function of a vector is analytic (see ``is_smooth``)

    @property
    def dims(self) -> int:
        """An upper bound on the number of independent Gaussian innovations."""
        return self.init_rank + self.matmuls


def make_plan(program: Program) -> Plan:
    nodes = program.nodes
    names, C = init_covariance(program)
    Cf = np.array([[float(C[i, j]) for j in range(C.cols)] for i in range(C.rows)])
    rank = pivot_count(Cf)
    last_matmul: dict[str, int] = {}
    inputs_of: dict[str, list[str]] = {}
    for i, node in enumerate(nodes):
        if isinstance(node, MatMul):
            last_matmul[node.matrix] = i
            inputs_of.setdefault(node.matrix, []).append(node.vector)
    # ZHat and ZDot of a later MatMul by the same matrix read the inputs of earlier ones.
    also: list[list[str]] = [[] for _ in nodes]
    for W, i in last_matmul.items():
        also[i] = inputs_of[W]
    scalars_and_matrices = {n.name for n in nodes if kind_of(n) != "vector"}
    free = last_use(nodes, keep=scalars_and_matrices, also_reads=also)
    done: list[list[str]] = [[] for _ in nodes]
    for W, i in last_matmul.items():
        done[i].append(W)
    return Plan(
        program,
        tuple(names),
        Cf,
        tuple(map(tuple, free)),
        tuple(map(tuple, done)),
        rank,
        sum(isinstance(n, MatMul) for n in nodes),
        all(is_smooth(n.expr, program) for n in nodes if isinstance(n, (Nonlin, Moment))),
    )


#: Functions analytic on a strip around the real line: Gauss–Hermite converges fast for them.
ANALYTIC = frozenset({"exp", "tanh", "sigmoid", "erf", "gelu", "silu", "sin", "cos"})
#: Bounded functions: no singularity of their argument survives them.
BOUNDED = frozenset({"tanh", "sigmoid", "erf", "sin", "cos", "step"})


def is_smooth(expr: sp.Expr, program: Program) -> bool:
    """True when every vector-dependent part of ``expr`` is a polynomial or an ANALYTIC
    function of such parts (no relu/abs/step/max/min/piecewise, roots, logs or 1/x)."""
    for sub in sp.preorder_traversal(expr):
        if sub.is_Atom or sub.is_Add or sub.is_Mul:
            continue
        if not any(program.kind(s.name) == "vector" for s in sub.free_symbols):
            continue
        if sub.is_Pow and sub.exp.is_Integer and sub.exp >= 0:
            continue
        if sub.func in SYMPY_HEADS and SYMPY_HEADS[sub.func] in ANALYTIC:
            continue
        return False
    return True


class Pass:
    """Runs the program once on ``particles``; ``scalars`` holds every scalar's value."""

    def __init__(self, plan: Plan, particles: ParticleSet, progress: Progress | None,
                 warnings: dict[str, str] | None = None) -> None:
        self.plan = plan
        self.ps = particles
        self.progress = progress
        self.env: dict[str, object] = {}  # name -> float (scalar) or (M,) array (vector)
        self.scalars: dict[str, float] = {}
        self.families: dict[str, NumericFamily] = {}
        self.sigma2: dict[str, float] = {}
        # Order p of the strongest singularity |b|^-p of each vector (0: none), see
        # _singular_order.
        self.order: dict[str, float] = {}
        # scalar -> why its value is unreliable (shared by the passes of one derivation)
        self.warnings: dict[str, str] = {} if warnings is None else warnings

    def run(self) -> dict[str, float]:
        plan = self.plan
        self._init_vectors()
        for i, node in enumerate(plan.program.nodes):
            if self.progress is not None:
                self.progress(node.name)
            dispatch(_RULES, node, self)
            for name in plan.free_after[i]:
                self.env.pop(name, None)
            for W in plan.families_done[i]:
                self.families.pop(family_name(W, False), None)
                self.families.pop(family_name(W, True), None)
        return self.scalars

    # ---------------------------------------------------------------- rules
    # One method per node kind (dispatched by the _RULES table below the class).
    def _rule_init_scalar(self, node: InitScalar) -> None:
        self._scalar(node.name, float(node.value), node)

    def _rule_init_vector(self, node: InitVector) -> None:
        pass  # ZInit: sampled with their family before the first node

    def _rule_init_matrix(self, node: InitMatrix) -> None:
        self.sigma2[node.name] = float(node.var)

    def _rule_nonlin(self, node: Nonlin) -> None:
        # ZNonlin: φ applied particle by particle.
        v = np.broadcast_to(evaluate(node.expr, self.env, node.name), (self.ps.length,))
        self.order[node.name] = self._singular_order(node.expr, node.name)
        self.env[node.name] = self._finite_vector(np.asarray(v, dtype=float), node)

    def _rule_moment(self, node: Moment) -> None:
        # ZMoment: the limit of a coordinate average is the expectation of its Z.
        v = evaluate(node.expr, self.env, node.name)
        if np.ndim(v):
            self._check_integrable(node, v)
        value = self.ps.mean(v) if np.ndim(v) else float(v)
        self._scalar(node.name, value, node)

    def _rule_scalar_op(self, node: ScalarOp) -> None:
        self._scalar(node.name, float(evaluate(node.expr, self.env, node.name)), node)

    def _init_vectors(self) -> None:
        """ZInit: one family with the declared (exact) covariance."""
        plan, ps = self.plan, self.ps
        fam = NumericFamily("init", 1.0)
        pivots: list[int] = []
        C = plan.init_cov
        for i, name in enumerate(plan.init_names):
            before = fam.rank
            self.env[name] = fam.add(
                C[i, i], C[i, pivots], name, ps.innovation, ps.inner, ps.length
            )
            if fam.rank > before:
                pivots.append(i)

    def _zmatmul(self, node: MatMul) -> None:
        ps = self.ps
        W, t, x = node.matrix, node.transpose, node.vector
        s2 = self.sigma2[W]
        zx = self.env[x]
        # ZDot: Stein's lemma on the opposite orientation's family (Eq. 31).
        other = self.families.get(opposite_family(W, t))
        dot = None
        if other is not None and other.rank:
            e = other.stein(zx, ps.inner)
            for coef, y in zip(e, other.pivot_inputs):
                if coef:
                    term = (s2 * coef) * self.env[y]
                    dot = term if dot is None else dot + term
        # ZHat: Cov(Ẑ^{W̄x}, Ẑ^{W̄y}) = σ² E[Z^x Z^y] with the family's pivot atoms.
        fname = family_name(W, t)
        fam = self.families.get(fname)
        if fam is None:
            fam = self.families[fname] = NumericFamily(fname, s2)
        var = s2 * ps.inner(zx, zx)
        cov = np.array([s2 * ps.inner(zx, self.env[y]) for y in fam.pivot_inputs])
        atom = fam.add(var, cov, x, ps.innovation, ps.inner, ps.length)
        z = atom if dot is None else atom + dot
        self.env[node.name] = self._finite_vector(z, node)

    # ---------------------------------------------------------------- checks
    def _scalar(self, name: str, value: float, node) -> None:
        if not np.isfinite(value):
            raise ProgramError(
                f"'{name}' is not finite ({value}) in the numeric limit",
                loc=node.loc,
                node=name,
                hint="an expectation diverges, or a function is undefined where the Gaussian "
                "puts mass (e.g. log or sqrt of a possibly negative quantity)",
            )
        self.scalars[name] = float(value)
        self.env[name] = np.float64(value)

    def _finite_vector(self, v: np.ndarray, node) -> np.ndarray:
        if not np.all(np.isfinite(v[: self.ps.size])):
            raise ProgramError(
                f"'{node.name}' takes non-finite values on the sampled Gaussians",
                loc=node.loc,
                node=node.name,
                hint="a function is undefined or overflows where the Gaussian puts mass "
                "(e.g. log/sqrt of a possibly negative quantity, 1/x near 0, exp of a large "
                "argument)",
            )
        return v

    # ---------------------------------------------------------------- integrability
    def _singular_order(self, expr: sp.Expr, node: str) -> float:
        """The order p of the strongest singularity of ``expr`` as a function of the Gaussians:
        a negative power b^-p of a vector-dependent b that changes sign (hence vanishes) on the
        particles behaves like |t|^-p near a simple zero t of b, and E|t|^-p = ∞ iff p ≥ 1.
        Orders add in products, take the max in sums, scale with powers, and vanish inside
        bounded functions (tanh, sigmoid, erf, sin, cos, step). Structural, so it can miss a
        cancellation spread over several nodes (y = 1/x; mean(x*y)): write such quotients in
        one expression, where sympy cancels them."""
        vectors = self.order

        def is_vec(e: sp.Expr) -> bool:
            return any(s.name in vectors or self.plan.program.kind(s.name) == "vector"
                       for s in e.free_symbols)

        def order(e: sp.Expr) -> float:
            if e.is_Symbol:
                return vectors.get(e.name, 0.0)
            if e.is_Number or not is_vec(e):
                return 0.0
            if e.is_Add:
                return max(order(a) for a in e.args)
            if e.is_Mul:
                return sum(order(a) for a in e.args)
            if e.is_Pow:
                ex = e.exp
                if not ex.is_number:
                    return order(e.base)
                p = float(ex)
                if p >= 0:
                    return p * order(e.base)
                b = np.asarray(evaluate(e.base, self.env, node), float)[: self.ps.size]
                if b.size and (np.any(b == 0) or (np.nanmin(b) < 0 < np.nanmax(b))):
                    return -p
                return 0.0
            if e.func in SYMPY_HEADS and SYMPY_HEADS[e.func] in BOUNDED:
                return 0.0
            return max((order(a) for a in e.args if isinstance(a, sp.Expr)), default=0.0)

        return order(expr)

    def _check_integrable(self, node: Moment, v: np.ndarray) -> None:
        """ZMoment needs E|φ(Z)| < ∞. Refuse, naming the reason, when the integrand has a
        non-integrable singularity (order ≥ 1, e.g. 1/x, 1/x²) or grows at least like
        exp(|u|²/2) along a probe ray (e.g. exp(x²)), where u are the standard Gaussian
        innovations: then the particle average is a finite number with an error bar for an
        expectation that does not exist."""
        p = self._singular_order(node.expr, node.name)
        a = np.abs(np.asarray(v, float)[: self.ps.size])
        # ... and the particles near the zero must show it: values far beyond the typical
        # (relu(x)/x = step(x) has a vanishing denominator and no singularity).
        if p >= 1 and a.size and np.max(a) > 20 * max(float(np.mean(a)), 1e-300):
            raise ProgramError(
                f"'{node.name}': the expectation does not exist: its integrand has a "
                f"singularity like 1/|t|^{p:g} where a denominator changes sign",
                loc=node.loc, node=node.name,
                hint="E|1/t|^p is infinite for p ≥ 1 (E[1/x] is undefined, E[1/x²] = +∞); "
                "keep denominators away from 0, e.g. 1/(1 + x^2)",
            )
        ps = self.ps
        if ps.probes is None or len(ps.probes) < 2 or not np.all(np.isfinite(a)):
            return  # non-finite values on the particles themselves are reported as such
        far = np.abs(np.asarray(v, float)[ps.size:])
        r1, r2 = PROBE_RADII
        gauss = (r2**2 - r1**2) / 2  # growth of log(1/density) between the radii
        with np.errstate(all="ignore"):
            near, out = far[0::2], far[1::2]
            growth = np.log(out) - np.log(near)
            # An overflow at r2 still proves growth ≥ log(max double) - log(near).
            bound = np.where(np.isfinite(out), growth, 709.78 - np.log(near))
            heavy = (np.isinf(near) & ~np.isnan(near)) | (bound >= 0.999 * gauss)
        if not np.any(heavy) and np.any(bound >= 0.999 * gauss / 2):
            # E[φ²] = ∞: the mean exists but no error estimate from particles is reliable.
            self.warnings[node.name] = (
                "heavy tail: E[φ²] = ∞ (the integrand grows like exp(|Z|²/4) or faster), so "
                "the value and its error bar are unreliable")
        if np.any(heavy):
            raise ProgramError(
                f"'{node.name}': the expectation is infinite: its integrand grows at least "
                f"like exp(|Z|²/2) far out, faster than the Gaussian density decays",
                loc=node.loc, node=node.name,
                hint="E[exp(c x^2)] = ∞ for c ≥ 1/(2 Var x); the particle average would be "
                "a finite number for a quantity that does not exist",
            )


_RULES = node_table("numeric", {
    InitScalar: Pass._rule_init_scalar,
    InitVector: Pass._rule_init_vector,
    InitMatrix: Pass._rule_init_matrix,
    MatMul: Pass._zmatmul,
    Nonlin: Pass._rule_nonlin,
    Moment: Pass._rule_moment,
    ScalarOp: Pass._rule_scalar_op,
})  # fmt: skip
