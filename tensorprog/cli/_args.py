"""Numeric flags of the subcommands, validated in one place: integer ranges (a value out of
range is a TensorProgError, exit 1, naming the flag and its range), width lists, the size of a
generated training program, and the up-front memory/time estimate of finite-width work; all
before anything large is built or allocated.

The bounds are far above every documented use and low enough that no command hangs or runs out
of memory building its inputs:

- ``--depth`` ≤ 1000 hidden layers;
- ``--steps`` / ``--epochs`` ≤ 10,000, and a generated training program ≤ 10,000 SGD steps
  (mlp: examples / batch size) and ≤ 1,000,000 nodes, estimated before it is built (figure4:
  --steps ≤ 20, its exact limits double their digits every step);
- ``--seeds`` (how many runs) ≤ 10,000 (maml: 100, each seed a full meta-training run);
- ``--seed`` / ``--data-seed`` / ``--init-seed`` from 0 to 10⁶ (numpy refuses negative seeds);
- a width ≤ 10⁶ (maml: 10⁵), and finite-width training refused when its matrices would not
  fit in memory or its runs would take over an hour (the estimate of
  tensorprog.finite.check_size on the training program, plus per-node overhead; word2vec:
  its V × width matrices against half the RAM).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ProgramError, TensorProgError
from ..finite import MAX_SECONDS, check_size

MAX_DEPTH = 1000
MAX_STEPS = 10_000
MAX_SEED_COUNT = 10_000
MAX_SEED = 10**6
MAX_WIDTH = 10**6
#: Largest generated training program: ~1 minute and a few GiB to build (its size grows like
#: steps², as every step's weights are the initial ones plus all earlier updates; depth 3 with
#: 200 steps has 82,698 nodes).
MAX_NODES = 1_000_000
#: Seconds per program node per finite-width run on top of the arithmetic (the interpreters'
#: Python overhead; measured ~9 µs for `mlp --depth 1000 --width 4`).
NODE_SECONDS = 1e-5


@dataclass(frozen=True)
class Bound:
    """The range of an integer flag and what the bound protects."""

    lo: int
    hi: int
    why: str


DEPTH = Bound(1, MAX_DEPTH, "hidden layers")
STEPS = Bound(1, MAX_STEPS, "the training program grows with every step")
SEED_COUNT = Bound(1, MAX_SEED_COUNT, "each seed is one training run")
SEED = Bound(0, MAX_SEED, "numpy seeds are non-negative")
WIDTH = Bound(1, MAX_WIDTH, "finite-width matrices grow like width²")


def check_ints(args: argparse.Namespace, **bounds: Bound) -> None:
    """Refuse (exit 1, naming the flag and its range) an integer flag out of its bound; a flag
    left out (None) is not checked. Keyword = the argparse destination, e.g. ``data_seed``."""
    for name, b in bounds.items():
        v = getattr(args, name, None)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int) or not b.lo <= v <= b.hi:
            flag = "--" + name.replace("_", "-")
            raise TensorProgError(
                f"{flag} {v} is out of range: it takes an integer from {b.lo:,} to {b.hi:,} "
                f"({b.why})",
                hint=f"give {flag} a value from {b.lo:,} to {b.hi:,}")


def parse_widths(text: str, flag: str = "--widths", *, allow_inf: bool = False) -> list:
    """``"64,256,inf"`` -> [64, 256, "inf"]: positive integers ≤ MAX_WIDTH (and ``inf`` when
    allowed), in the given order, duplicates dropped."""
    out: list = []
    for part in text.split(","):
        p = part.strip().lower()
        if allow_inf and p in ("inf", "infinity", "∞"):
            out.append("inf")
            continue
        if not p.isdigit() or int(p) < 1:
            raise TensorProgError(
                f"{flag}: bad width {part.strip()!r}",
                hint="widths are positive integers" + (" or inf" if allow_inf else "")
                + f", e.g. {flag} 64,256" + (",inf" if allow_inf else ""))
        if int(p) > MAX_WIDTH:
            raise TensorProgError(
                f"{flag}: width {int(p):,} is more than {MAX_WIDTH:,}",
                hint=f"use widths up to {MAX_WIDTH:,} (finite-width networks hold width-sized "
                "matrices; the infinite-width limit is what 'inf' or the limit engine gives)")
        out.append(int(p))
    return list(dict.fromkeys(out))


def check_finite_run(program, n: int, seeds: int, *, width_flag: str = "--width",
                     seeds_flag: str = "--seeds") -> None:
    """Refuse, before anything is allocated, finite-width training whose dense matrices do not
    fit in memory or whose runs would take over an hour: the estimate of
    tensorprog.finite.check_size on the Tensor Program of the same training (its ``n × n``
    matrices, vectors and matrix products are the direct trainer's too)."""
    try:
        check_size(program, n, seeds)
    except ProgramError as e:
        raise TensorProgError(
            f"{width_flag} {n} with {seeds_flag} {seeds}: {e.message}",
            hint=f"use a smaller {width_flag} or fewer {seeds_flag}") from None
    seconds = seeds * len(program) * NODE_SECONDS
    if seconds > MAX_SECONDS:
        raise TensorProgError(
            f"{seeds_flag} {seeds} runs of a {len(program):,}-node training would take "
            f"~{seconds:,.0f} s (more than {MAX_SECONDS:,.0f} s)",
            hint=f"use fewer {seeds_flag} (or fewer layers or steps)")


def check_program_size(nodes_at: Callable[[int], int], steps: int, what: str, hint: str) -> None:
    """Refuse a training program of ``steps`` SGD steps that would exceed MAX_NODES nodes,
    before building it: its size is a quadratic in the step count (step t reads the weights
    plus t earlier updates), fitted exactly through the sizes ``nodes_at(t)`` of the programs
    of t = 1, 2, 3 steps and extrapolated."""
    if steps > MAX_STEPS:
        raise TensorProgError(
            f"{what}: more than {MAX_STEPS:,} SGD steps (the training program grows with every "
            "step)", hint=hint)
    if steps <= 3:
        return
    y1, y2, y3 = (nodes_at(t) for t in (1, 2, 3))
    # Newton form through (1, y1), (2, y2), (3, y3)
    d1, d2 = y2 - y1, (y3 - 2 * y2 + y1) / 2
    est = int(y1 + d1 * (steps - 1) + d2 * (steps - 1) * (steps - 2))
    if est > MAX_NODES:
        raise TensorProgError(
            f"{what} would make a training program of ~{est:,} nodes, more than "
            f"{MAX_NODES:,} (its size grows like steps², as every step reads all earlier "
            "updates; building it alone would take minutes and gigabytes)", hint=hint)


__all__ = ["DEPTH", "MAX_DEPTH", "MAX_NODES", "MAX_SEED", "MAX_SEED_COUNT", "MAX_STEPS",
           "MAX_WIDTH", "SEED", "SEED_COUNT", "STEPS", "WIDTH", "Bound", "check_finite_run",
           "check_ints", "check_program_size", "parse_widths"]


def add_finite_width_options(p: argparse.ArgumentParser) -> None:
    """--width / --seeds / --seed: also train the real network (mlp, train)."""
    p.add_argument(
        "--width", type=int,
        help=f"also train the real network at this width (direct trainer; up to {MAX_WIDTH:,}, "
        "and refused up front when its matrices would not fit in memory or take over an hour)",
    )  # fmt: skip
    p.add_argument("--seeds", type=int, default=10,
                   help=f"seeds for --width (10; at most {MAX_SEED_COUNT:,})")  # fmt: skip
    p.add_argument("--seed", type=int, default=0,
                   help=f"first seed for --width (0; 0 to {MAX_SEED:,})")  # fmt: skip
