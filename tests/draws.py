"""Shared test helper: explicit random draws of a program's initial objects, so a generated
program (run_finite with ``draws=``) and an independent trainer can be fed the same sample."""

from __future__ import annotations

import numpy as np

from tensorprog.ir import InitMatrix, InitVector, Program


def draws_for(program: Program, n: int, seed: int) -> dict[str, np.ndarray]:
    """One sample of every initial object of the program, as run_finite expects them
    (initial vectors drawn independently: the programs using this declare no covariances)."""
    rng = np.random.default_rng(seed)
    out = {}
    for node in program.nodes:
        if isinstance(node, InitVector):
            out[node.name] = rng.standard_normal(n) * np.sqrt(float(node.var))
        elif isinstance(node, InitMatrix):
            out[node.name] = rng.standard_normal((n, n)) * np.sqrt(float(node.var) / n)
    return out
