"""An L-hidden-layer MLP trained by SGD, written as a Tensor Program (TP4, Yang & Hu,
arXiv:2011.14522, §6; Chen, Yang, Zhao & Gu, "Global Convergence and Rich Feature Learning in
L-Layer Infinite-Width NNs under μP", App. B).

Conventions (TP4 Definition 5.1 with all constants 1; docs/mlp.md has the details):

* network  h¹ = Σ_j ξ_j U_j,  x^l = φ(h^l),  h^{l+1} = W^{l+1} x^l,  f = mean(nV ⊙ x^L);
* initial objects  U_j (columns of W¹) and nV = n·W^{L+1}: initial vectors with N(0, σ²)
  coordinates; W², …, W^L: initial matrices with N(0, σ²/n) entries (σ = 1 unless multiplied);
* scaled gradients  dx^L = nV,  dh^l = dx^l ⊙ φ'(h^l),  dx^{l-1} = (W^l_t)ᵀ dh^l;
* SGD with learning rate η and χ = L'(f, y):
  nV ← nV − η χ x^L,  ΔW^l ← ΔW^l − η χ dh^l (x^{l-1})ᵀ / n,  U_j ← U_j − η χ ξ_j dh¹.

The program is the forward model of :func:`mlp_model` (parameters U_j, nV, W^l; inputs ξ_j)
transformed by reverse-mode autodiff (:mod:`tensorprog.transforms`): the backward pass, the SGD
updates and the TP4 Eq. (24) expansion ``W^l_t x = W^l_0 x − η Σ_s χ_s dh^l_s (x^{l-1}_s · x)/n``
are generated, not written here. ``decoupled=True`` backpropagates through an independent
initial matrix ``Wtilde{l}`` in place of W^l_0ᵀ (TP4 Eq. 20).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..errors import ParametrizationError, ProgramError, SourceLoc, TensorProgError
from ..ir import Program, sym
from ..syntax import parse_expression
from ..transforms.data import read_number
from ..transforms.train import TrainSpec, build_training, check_loss, loss_terms

LOSSES = ("mse", "logistic")
BATCH_REDUCTIONS = ("sum", "mean")
PARAMETRIZATIONS = ("mup",)

#: The activation's variable: activations are sympy expressions in ``sym("x")``.
X = sym("x")


# --------------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class MLPSpec:
    """A validated MLP + SGD specification; numbers are sympy numbers (exact when given exactly).

    ``inputs`` holds every training example (a d-tuple each), step t using examples
    ``t*batch_size … (t+1)*batch_size − 1``; ``init_multipliers`` / ``lr_multipliers`` have one
    entry per layer 1..L+1 (layer 1 = U, layer L+1 = nV).
    """

    depth: int
    activation: sp.Expr
    inputs: tuple[tuple[sp.Expr, ...], ...]
    targets: tuple[sp.Expr, ...]
    lr: sp.Expr
    parametrization: str = "mup"
    loss: str = "mse"
    batch_size: int = 1
    decoupled: bool = False
    eval_inputs: tuple[tuple[sp.Expr, ...], ...] = ()
    batch_reduction: str = "sum"
    init_multipliers: tuple[sp.Expr, ...] = ()
    lr_multipliers: tuple[sp.Expr, ...] = ()

    @property
    def d(self) -> int:
        """Input dimension."""
        return len(self.inputs[0])

    @property
    def steps(self) -> int:
        """Number of SGD steps T."""
        return len(self.inputs) // self.batch_size

    @property
    def derivative(self) -> sp.Expr:
        """φ' (sympy derivative in x)."""
        return sp.diff(self.activation, X)

    def to_dict(self) -> dict:
        """A JSON-ready description (numbers as exact text)."""
        return {
            "depth": self.depth,
            "activation": str(self.activation),
            "d": self.d,
            "steps": self.steps,
            "inputs": [[str(v) for v in ex] for ex in self.inputs],
            "targets": [str(v) for v in self.targets],
            "lr": str(self.lr),
            "parametrization": self.parametrization,
            "loss": self.loss,
            "batch_size": self.batch_size,
            "batch_reduction": self.batch_reduction,
            "decoupled": self.decoupled,
            "eval_inputs": [[str(v) for v in ex] for ex in self.eval_inputs],
            "init_multipliers": [str(v) for v in self.init_multipliers],
            "lr_multipliers": [str(v) for v in self.lr_multipliers],
        }


def _example(value, what: str) -> tuple[sp.Expr, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        return (read_number(value, what),)
    vals = tuple(read_number(v, f"{what}[{j}]") for j, v in enumerate(value))
    if not vals:
        raise TensorProgError(f"{what} is empty", hint="an input has d >= 1 coordinates")
    return vals


def read_activation(activation) -> sp.Expr:
    """φ as a sympy expression in ``sym("x")``: from text (the safe `.tp` expression parser,
    never eval) or a sympy expression; checks the function whitelist for φ and φ'."""
    if isinstance(activation, str):
        expr = parse_expression(activation, loc=SourceLoc("<activation>", 1, 1, activation))
    elif isinstance(activation, sp.Expr):
        expr = activation
    else:
        raise TensorProgError(
            f"activation must be text like 'x^2' or a sympy expression, "
            f"got {type(activation).__name__}"
        )
    expr = expr.xreplace({s: sym(s.name) for s in expr.free_symbols})
    others = sorted(s.name for s in expr.free_symbols if s != X)
    if others:
        raise TensorProgError(
            f"the activation may only use the variable x, but uses {', '.join(others)}",
            hint="write φ in x, e.g. 'tanh(x)' or 'x^2'",
        )
    if X not in expr.free_symbols:
        raise TensorProgError(
            f"the activation {expr} is constant", hint="use an activation that depends on x"
        )
    for what, e in (("activation", expr), ("activation's derivative", sp.diff(expr, X))):
        probe = Program("activation")
        probe.vector("x")
        probe.vector("z")  # + z: the probe must involve a vector even when e is constant
        try:
            probe.nonlin("phi", e + sym("z"))
        except ProgramError as err:
            raise TensorProgError(
                f"the {what} {e} cannot be used: {err.message}", hint=err.hint
            ) from None
    return expr


def _multipliers(values, depth: int, what: str) -> tuple[sp.Expr, ...]:
    if values is None:
        return (sp.Integer(1),) * (depth + 1)
    vals = tuple(read_number(v, f"{what}[{i}]") for i, v in enumerate(values))
    if len(vals) != depth + 1:
        raise TensorProgError(
            f"{what} needs one entry per layer 1..L+1 ({depth + 1} for depth {depth}), "
            f"got {len(vals)}"
        )
    return vals


def mlp_spec(
    depth: int,
    activation,
    inputs,
    targets,
    lr,
    *,
    parametrization: str = "mup",
    loss: str = "mse",
    batch_size: int = 1,
    decoupled: bool = False,
    eval_inputs=None,
    batch_reduction: str = "sum",
    init_multipliers=None,
    lr_multipliers=None,
) -> MLPSpec:
    """Validate and normalize the arguments of :func:`mlp_program` (see there)."""
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise TensorProgError(f"depth must be an integer >= 1, got {depth!r}")
    depth = int(depth)
    if parametrization not in PARAMETRIZATIONS:
        raise ParametrizationError(
            f"unknown or unsupported parametrization '{parametrization}'",
            hint=f"supported: {', '.join(PARAMETRIZATIONS)}",
        )
    check_loss(loss, batch_reduction)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TensorProgError(f"batch_size must be an integer, got {batch_size!r}")
    batch_size = int(batch_size)
    if batch_size < 1:
        raise TensorProgError(f"batch_size must be >= 1, got {batch_size}")
    phi = read_activation(activation)
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, (Sequence, np.ndarray)):
        raise TensorProgError("inputs must be a sequence of examples (numbers or vectors)")
    exs = tuple(_example(v, f"inputs[{k}]") for k, v in enumerate(inputs))
    if not exs:
        raise TensorProgError("inputs is empty", hint="give at least one training example")
    d = len(exs[0])
    for k, ex in enumerate(exs):
        if len(ex) != d:
            raise TensorProgError(
                f"inputs[{k}] has {len(ex)} coordinates but inputs[0] has {d}",
                hint="all inputs need the same dimension d",
            )
    if isinstance(targets, (str, bytes)) or not isinstance(targets, (Sequence, np.ndarray)):
        raise TensorProgError("targets must be a sequence of numbers")
    ys = tuple(read_number(v, f"targets[{k}]") for k, v in enumerate(targets))
    if len(ys) != len(exs):
        raise TensorProgError(
            f"{len(exs)} inputs but {len(ys)} targets", hint="give one target per input"
        )
    if len(exs) % batch_size:
        raise TensorProgError(
            f"{len(exs)} examples do not split into batches of {batch_size}",
            hint="give steps × batch_size examples",
        )
    if loss == "logistic":
        bad = [k for k, y in enumerate(ys) if y not in (1, -1)]
        if bad:
            raise TensorProgError(
                f"the logistic loss needs labels ±1, but targets[{bad[0]}] = {ys[bad[0]]}",
                hint="use labels 1 and -1, or loss='mse'",
            )
    eta = read_number(lr, "lr")
    if eta.is_negative:
        raise TensorProgError(f"the learning rate must be >= 0, got {eta}")
    evals: tuple[tuple[sp.Expr, ...], ...] = ()
    if eval_inputs is not None:
        if isinstance(eval_inputs, (str, bytes)) or not isinstance(
            eval_inputs, (Sequence, np.ndarray)
        ):
            raise TensorProgError("eval_inputs must be a sequence of examples")
        evals = tuple(_example(v, f"eval_inputs[{k}]") for k, v in enumerate(eval_inputs))
        for k, ex in enumerate(evals):
            if len(ex) != d:
                raise TensorProgError(
                    f"eval_inputs[{k}] has {len(ex)} coordinates but the inputs have {d}"
                )
    for k, ex in enumerate(exs + evals):
        if all(v == 0 for v in ex):
            which = f"inputs[{k}]" if k < len(exs) else f"eval_inputs[{k - len(exs)}]"
            raise TensorProgError(
                f"{which} is the zero vector: its first-layer preactivation is the constant 0, "
                "which a Tensor Program cannot hold as a vector",
                hint="use a nonzero input (the network's output on 0 does not depend on U)",
            )
    sig = _multipliers(init_multipliers, depth, "init_multipliers")
    lrm = _multipliers(lr_multipliers, depth, "lr_multipliers")
    return MLPSpec(
        depth, phi, exs, ys, eta, parametrization, loss, batch_size, bool(decoupled), evals,
        batch_reduction, sig, lrm,
    )


# --------------------------------------------------------------------------- parametrizations
@dataclass(frozen=True)
class _Scales:
    """A parametrization in the program's Θ(1) units, per layer 1..L+1 (U, W², …, W^L, nV).

    ``init_var[l-1]``: variance of U's coordinates / of √n·W^l's entries / of nV's coordinates.
    ``lr[l-1]``: layer l's learning-rate multiplier (the update is −η·lr·χ·direction).
    """

    init_var: tuple[sp.Expr, ...]
    lr: tuple[sp.Expr, ...]


def _mup_scales(spec: MLPSpec) -> _Scales:
    # μP (TP4 Def. 5.1, constants 1): every layer's update is Θ(1) in these units, with the
    # learning rate η itself; per-layer multipliers scale the init std and the learning rate.
    # The global η and the batch reduction are applied by the transformation.
    return _Scales(tuple(s**2 for s in spec.init_multipliers), tuple(spec.lr_multipliers))


# Other abc-parametrizations need n-dependent scalars in the program; each entry
# maps a spec to its scales.
_SCALES: dict[str, Callable[[MLPSpec], _Scales]] = {"mup": _mup_scales}


# --------------------------------------------------------------------------- losses
def _loss(kind: str, f: sp.Expr, y: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(loss, dloss/df): MSE ½(f−y)², χ = f − y; logistic log(1+e^{−yf}), χ = −y/(1+e^{yf})."""
    return loss_terms(kind, f, y)


# --------------------------------------------------------------------------- the model
def input_names(d: int) -> list[str]:
    """The model's input scalars: ``xi`` for d = 1, else ``xi1`` … ``xid``."""
    return ["xi"] if d == 1 else [f"xi{j + 1}" for j in range(d)]


def mlp_model(spec: MLPSpec) -> Program:
    """The forward pass of the MLP of ``spec`` as a model description (parameters ``U``/``U_j``
    (role input), ``nV`` (output), ``W2`` … ``WL`` (hidden); inputs ``xi``/``xi_j``; output
    ``f``), with ``spec``'s parametrization's initial variances and learning-rate multipliers."""
    sc = _SCALES[spec.parametrization](spec)
    L = spec.depth
    m = Program(f"mlp_depth{L}_{spec.parametrization}")
    bases = ["U"] if spec.d == 1 else [f"U{j + 1}" for j in range(spec.d)]
    U = [m.param_vector(b, sc.init_var[0], role="input", lr=sc.lr[0]) for b in bases]
    nV = m.param_vector("nV", sc.init_var[L], role="output", lr=sc.lr[L])
    W = {l: m.param_matrix(f"W{l}", sc.init_var[l - 1], lr=sc.lr[l - 1]) for l in range(2, L + 1)}
    xi = m.input(*input_names(spec.d))
    h = m.nonlin("h1", sp.Add(*[c * u for c, u in zip(xi, U)]))
    x = m.nonlin("x1", spec.activation.xreplace({X: h}))
    for l in range(2, L + 1):
        h = m.matmul(f"h{l}", W[l], x)
        x = m.nonlin(f"x{l}", spec.activation.xreplace({X: h}))
    m.moment("f", nV * x)  # f = W^{L+1} x^L = mean(nV ⊙ x^L) since W^{L+1} = nV/n
    m.output("f")
    return m


def _train_spec(spec: MLPSpec) -> TrainSpec:
    return TrainSpec(
        spec.inputs, tuple((y,) for y in spec.targets), spec.lr, spec.steps, spec.loss,
        spec.batch_size, spec.batch_reduction, decoupled=spec.decoupled,
        eval_inputs=spec.eval_inputs,
    )  # fmt: skip


def mlp_program(
    depth: int,
    activation,
    inputs,
    targets,
    lr,
    *,
    parametrization: str = "mup",
    loss: str = "mse",
    batch_size: int = 1,
    decoupled: bool = False,
    eval_inputs=None,
    batch_reduction: str = "sum",
    init_multipliers=None,
    lr_multipliers=None,
) -> Program:
    """The Tensor Program of SGD on an L-hidden-layer MLP (μP; conventions in docs/mlp.md).

    depth: L >= 1 hidden layers.  activation: text like ``"x^2"`` / ``"tanh(x)"`` (parsed
    safely) or a sympy expression in ``sym("x")``; φ' by sympy differentiation.
    inputs: the training examples in order (numbers for d = 1, or length-d vectors); step t
    uses examples ``t*batch_size … (t+1)*batch_size − 1``.  targets: one number per example.
    lr: η (int, Fraction, "1/50" or sympy Rational stay exact; floats make limits inexact).
    loss: ``"mse"`` (½(f−y)², χ = f − y) or ``"logistic"`` (log(1+e^{−yf}), labels ±1).
    batch_reduction: ``"sum"`` (as Chen et al. App. B) or ``"mean"`` of the per-example gradients.
    decoupled: backprop through an independent copy of W₀ᵀ (TP4 §6.2).
    eval_inputs: inputs on which f is reported after the last update.
    init_multipliers / lr_multipliers: one constant per layer 1..L+1 multiplying the init
    standard deviation / the learning rate of that layer (default all 1).

    Outputs, in order: ``f_t`` then ``loss_t`` for each step t (``f_t_i``/``loss_t_i`` with
    batches), then ``f_T_e`` for each eval input e (T = number of steps).
    """
    spec = mlp_spec(
        depth, activation, inputs, targets, lr, parametrization=parametrization, loss=loss,
        batch_size=batch_size, decoupled=decoupled, eval_inputs=eval_inputs,
        batch_reduction=batch_reduction, init_multipliers=init_multipliers,
        lr_multipliers=lr_multipliers,
    )
    return build_program(spec)


def build_program(spec: MLPSpec) -> Program:
    """The program of a validated :class:`MLPSpec`."""
    program, _ = build_training(mlp_model(spec), _train_spec(spec), name=_name(spec))
    return program


def _name(spec: MLPSpec) -> str:
    return f"mlp_depth{spec.depth}_{spec.parametrization}"


@dataclass(frozen=True)
class MLPBuild:
    """A built MLP program together with the program names of its hidden vectors.

    ``vectors[tag]`` maps ``"h1"``, ``"x1"``, …, ``"hL"``, ``"xL"`` to the name of that vector in
    the forward pass ``tag``: training tags ``t`` / ``t_i``, eval tags ``T_e``, and for each probe
    input k the tags ``probe{k}_init`` (initial weights) and ``probe{k}_final`` (after the last
    update). Names are needed because a Nonlin that would only copy a vector is not created
    (e.g. h¹ = U for ξ = 1, or x = h for φ = x), so ``h1_{tag}`` need not exist.
    """

    program: Program
    spec: MLPSpec
    vectors: dict[str, dict[str, str]]

    def vector(self, kind: str, layer: int, tag: str) -> str:
        """The program name of h^layer (kind ``"h"``) or x^layer (``"x"``) in pass ``tag``."""
        return self.vectors[tag][f"{kind}{layer}"]


def build_with_probes(spec: MLPSpec, probe_inputs=()) -> MLPBuild:
    """Build the program of ``spec`` plus forward passes of ``probe_inputs`` with the initial
    and with the final weights (tags ``probe{k}_init`` / ``probe{k}_final``), and return the
    hidden-vector names of every pass. With no probes the program equals
    :func:`build_program`'s."""
    if isinstance(probe_inputs, (str, bytes)) or not isinstance(
        probe_inputs, (Sequence, np.ndarray)
    ):
        raise TensorProgError("probe_inputs must be a sequence of inputs")
    probes = tuple(_example(v, f"probe_inputs[{k}]") for k, v in enumerate(probe_inputs))
    for k, ex in enumerate(probes):
        if len(ex) != spec.d:
            raise TensorProgError(
                f"probe_inputs[{k}] has {len(ex)} coordinates but the inputs have {spec.d}"
            )
        if all(v == 0 for v in ex):
            raise TensorProgError(
                f"probe_inputs[{k}] is the zero vector: its features are the constant "
                "φ(0), which a Tensor Program cannot hold as a vector",
                hint="use nonzero probe inputs",
            )
    program, passes = build_training(
        mlp_model(spec), _train_spec(spec), name=_name(spec), probes=probes
    )
    keys = [f"{k}{l}" for l in range(1, spec.depth + 1) for k in "hx"]
    vectors = {tag: {k: names[k] for k in keys if k in names} for tag, names in passes.items()}
    return MLPBuild(program, spec, vectors)
