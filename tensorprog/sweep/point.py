"""Computing one sweep point, on whichever process runs it (a Dask worker or the client).

:func:`run_point` never raises for a failure of the point itself: it returns a result whose
``status`` is ``ok``, ``budget`` (the derivation outgrew its budget), ``diverged`` (a non-finite
output) or ``error`` (with the message), so every point of a sweep gets its row.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import time
from fractions import Fraction
from typing import Any

import numpy as np

from ..backends.domains import number_text
from ..builders.mlp import mlp_program
from ..errors import BudgetExceeded, TensorProgError
from ..training import loss_functions, train_mlp
from ..zcalc import derive_limit

STATUSES = ("ok", "budget", "diverged", "error")

#: an output beyond this magnitude marks the run diverged: its square is within a factor 1e108 of
#: float64's overflow, and float-mode limits past it lose terms (later outputs can read 0).
HUGE = 1e100


_MALLOC_TUNED = False


def _worker_name() -> str:
    try:
        from distributed import get_worker  # local: the optional `distributed` extra

        address = get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"
    _tune_malloc()
    return address


def _tune_malloc() -> None:
    """In a Dask worker: let glibc keep big numpy temporaries on the heap.

    Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also freezes glibc's
    mmap threshold at 128 KiB: every particle array of the numeric engine is then a fresh
    mmap + page faults + munmap, and a tanh limit point ran 5× slower in a worker than in a
    plain process (measured: 0.25 s vs 0.045 s of thread CPU). Raising both thresholds once
    per worker process restores the heap reuse; memory is returned to the OS above 128 MiB.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 128 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def _limit(p: dict[str, Any]) -> tuple[dict[str, tuple[str, float, float | None]], str]:
    program = mlp_program(
        p["depth"], p["activation"], p["inputs"], p["targets"], p["lr"],
        parametrization=p["parametrization"], loss=p["loss"], batch_size=p["batch_size"],
        eval_inputs=p["eval_inputs"],
    )  # fmt: skip
    with np.errstate(all="ignore"):  # overflow is reported as the status "diverged"
        lim = derive_limit(program, mode=p["mode"], budget=p["budget"])
    errors = getattr(lim, "errors", None) or {}
    out = {}
    for name, v in lim.outputs.items():
        try:
            fv = float(v)
        except (TypeError, ValueError, OverflowError):
            fv = math.nan
        err = float(errors[name]) if name in errors else None
        out[name] = (number_text(v), fv, err)
    return out, lim.mode


def _finite(p: dict[str, Any]) -> dict[str, tuple[str, float, float | None]]:
    with np.errstate(all="ignore"):  # divergence is a status, not a warning flood
        r = train_mlp(
            p["depth"], p["activation"], p["inputs"], p["targets"], p["lr"],
            width=p["width"], seed=p["seed"], parametrization=p["parametrization"],
            loss=p["loss"], batch_size=p["batch_size"], eval_inputs=p["eval_inputs"],
        )  # fmt: skip
        outs = r.outputs()
    return {k: (repr(v), v, None) for k, v in outs.items()}


def _derived(p: dict[str, Any], outs: dict[str, tuple[str, float, float | None]]) -> None:
    """``train_loss``: the mean loss on the eval examples after the last step (with data)."""
    ys = p.get("eval_targets")
    if not ys:
        return
    T = p["steps"]
    vals = [outs[f"f_{T}_{e}"][1] for e in range(len(ys))]
    loss = loss_functions(p["loss"])[0]
    losses = [float(loss(f, float(Fraction(y)))) for f, y in zip(vals, ys, strict=True)]
    v = math.fsum(losses) / len(losses) if all(map(math.isfinite, losses)) else math.nan
    outs["train_loss"] = (repr(v), v, None)


def _overflow(e: Exception) -> bool:
    """Float overflow / nan while computing: the run diverged (not a bug of the point)."""
    if isinstance(e, (OverflowError, FloatingPointError)):
        return True
    text = str(e)
    return any(k in text for k in ("nan in float64", "overflows", "Numerical result out of range"))


def run_point(params: dict[str, Any]) -> dict[str, Any]:
    """Compute one point: the limit (width "limit") or one finite-width training run.

    Returns ``{"status", "message", "outputs": {name: [text, float, error]}, "started",
    "finished", "seconds", "cpu", "worker", "pid", "mode"}``; started / finished are Unix
    times, seconds the wall time and cpu the CPU time of this process.
    """
    worker = _worker_name()  # (tunes malloc on a Dask worker before any work)
    started = time.time()
    t0, c0 = time.perf_counter(), time.process_time()
    status, message, outputs, mode = "ok", "", {}, None
    old = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else None
    try:
        if old is not None:
            sys.set_int_max_str_digits(0)  # exact limits can have many thousand digits
        if params.get("sleep"):
            time.sleep(float(params["sleep"]))  # test / benchmark aid: a slow point
        if params["width"] == "limit":
            outputs, mode = _limit(params)
        else:
            outputs, mode = _finite(params), "finite"
        _derived(params, outputs)
        bad = [k for k, v in outputs.items() if not math.isfinite(v[1])]
        huge = [k for k, v in outputs.items() if math.isfinite(v[1]) and abs(v[1]) > HUGE]
        if bad:
            status, message = "diverged", f"non-finite {', '.join(bad[:5])}"
        elif huge:
            status, message = "diverged", f"|{huge[0]}| = {abs(outputs[huge[0]][1]):.3g} > {HUGE:g}"
    except Exception as e:  # noqa: BLE001 - every failure becomes the point's status
        if isinstance(e, BudgetExceeded):
            status = "budget"
        elif _overflow(e):
            status = "diverged"
        else:
            status = "error"
        message = e.format() if isinstance(e, TensorProgError) else f"{type(e).__name__}: {e}"
        outputs = {}
    finally:
        if old is not None:
            sys.set_int_max_str_digits(old)
    return {
        "status": status,
        "message": message,
        "outputs": {k: list(v) for k, v in outputs.items()},
        "started": started,
        "finished": time.time(),
        "seconds": time.perf_counter() - t0,
        "cpu": time.process_time() - c0,
        "worker": worker,
        "pid": os.getpid(),
        "mode": mode,
    }


def noop_point(params: dict[str, Any]) -> dict[str, Any]:
    """A point that computes nothing (benchmarks: the scheduler's own cost per point)."""
    now = time.time()
    return {"status": "ok", "message": "", "outputs": {}, "started": now, "finished": now,
            "seconds": 0.0, "cpu": 0.0, "worker": _worker_name(), "pid": os.getpid(),
            "mode": "noop"}  # fmt: skip


def run_chunk(fn, params_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Several points in one task (``points_per_task``): their results in order."""
    return [fn(p) for p in params_list]
