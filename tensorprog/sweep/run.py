"""Running a sweep: points go to an executor (serial, an embedded Dask LocalCluster or an existing
Dask cluster), results come back in completion order and are committed one by one.

Dask: points are submitted with bounded in-flight concurrency (``as_completed`` topped up as
results arrive), so a grid of millions of points never floods the scheduler; a worker that dies
mid-point has its tasks rescheduled by the scheduler (up to its ``allowed-failures``), and a task
that raised is retried (``retries=``); only the client writes the database.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import TensorProgError
from .db import ResultsDB
from .point import run_chunk, run_point
from .spec import Point, SweepSpec, load_spec

#: progress(done, failed, total, note): called after every result (and once at the start).
Progress = Callable[[int, int, int, str], None]


@dataclass
class SweepReport:
    """What a run did: points in the grid, skipped as already done, computed now, by status."""

    total: int
    skipped: int
    computed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    executor: str = ""
    dashboard: str | None = None

    @property
    def failed(self) -> int:
        return sum(v for k, v in self.statuses.items() if k != "ok")


def _lost(point: Point, exc: BaseException) -> dict[str, Any]:
    now = time.time()
    return {"status": "error", "message": f"{type(exc).__name__}: {exc}"[:2000],
            "outputs": {}, "started": now, "finished": now, "seconds": 0.0, "cpu": None,
            "worker": None, "mode": None}  # fmt: skip


def _serial(points: list[Point], fn: Callable) -> Iterator[tuple[Point, dict, float]]:
    for p in points:
        queued = time.time()
        yield p, fn(p.params), queued


def default_workers() -> int:
    """Worker processes for the embedded cluster: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


#: embedded workers allowed per CPU: points are CPU bound and each worker is a Python process of
#: its own (a few hundred MB once sympy / numpy are loaded), so more only add memory and
#: contention; 4× leaves room for points that wait (sleep, I/O).
WORKERS_PER_CPU = 4
#: how long to wait for an existing scheduler to answer.
CONNECT_TIMEOUT = "20s"

_ADDRESS = re.compile(r"(?:(tcp|tls|ws|wss)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})")


def check_scheduler(address: str | None, flag: str = "--scheduler") -> None:
    """Refuse a scheduler address that is neither ``serial`` nor ``[tcp://]HOST:PORT`` (also
    tls://, ws://, wss://) before anything connects or a database is created."""
    if address is None or address == "serial":
        return
    m = _ADDRESS.fullmatch(address.strip()) if isinstance(address, str) else None
    if m is None or not 1 <= int(m.group(3)) <= 65535:
        raise TensorProgError(
            f"{flag} {address!r} is not a Dask scheduler address",
            hint="give tcp://HOST:PORT of a running scheduler (e.g. tcp://127.0.0.1:8786, "
            "ports 1-65535), 'serial' to compute in this process, or leave it out for an "
            "embedded cluster",
        )


def max_workers() -> int:
    """The most embedded workers :func:`run_sweep` starts (see WORKERS_PER_CPU)."""
    return WORKERS_PER_CPU * default_workers()


def check_workers(workers: int | None, flag: str = "--workers") -> None:
    """Refuse a worker count below 1 or above :func:`max_workers`."""
    if workers is None:
        return
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise TensorProgError(f"{flag} must be a positive integer, got {workers!r}")
    top = max_workers()
    if workers > top:
        raise TensorProgError(
            f"{flag} {workers} is more than {top} ({WORKERS_PER_CPU} × the "
            f"{default_workers()} CPUs this process may use): each worker is a Python process "
            "of its own computing one CPU-bound point at a time, so more workers than that "
            "only add memory and contention",
            hint=f"leave {flag} out (one per CPU) or give at most {top}; for more, start a "
            "Dask cluster across machines and pass --scheduler tcp://HOST:PORT",
        )


class DaskExecutor:
    """A Dask client on an existing scheduler (``address``) or on an embedded LocalCluster of
    ``workers`` single-threaded processes (sympy / flint work is CPU bound and holds the GIL)."""

    def __init__(self, address: str | None = None, workers: int | None = None,
                 retries: int = 2, max_in_flight: int | None = None,
                 points_per_task: int = 1,
                 connect_timeout: str = CONNECT_TIMEOUT) -> None:  # fmt: skip
        try:
            # local: the optional `distributed` extra, only for cluster runs
            from distributed import Client, LocalCluster
        except ImportError:
            raise TensorProgError(
                "running a sweep on Dask needs the 'distributed' package",
                hint="pip install 'tensorprog[distributed]', or --scheduler serial",
            ) from None
        self.cluster = None
        self._bokeh = True  # a remote scheduler: trust its services list
        if address is None:
            try:
                import bokeh  # noqa: F401 - the dashboard pages need it

                self._bokeh = True
            except ImportError:
                self._bokeh = False
            import dask

            # The workers' statistical profiler samples every thread's stack each 10 ms while
            # holding the GIL: a measurable tax on CPU-bound points, and sweeps do not need it.
            with dask.config.set({"distributed.worker.profile.enabled": False}):
                self.cluster = LocalCluster(
                    n_workers=workers or default_workers(), threads_per_worker=1,
                    processes=True, dashboard_address=":0", scheduler_port=0,
                    worker_dashboard_address=None, silence_logs=logging.CRITICAL,
                )  # fmt: skip
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(address, timeout=connect_timeout)
            except (OSError, TimeoutError, ValueError) as e:
                raise TensorProgError(f"cannot reach the Dask scheduler at {address}: {e}",
                                      hint="start one with `dask scheduler` and workers with "
                                      f"`dask worker {address}`") from None  # fmt: skip
        self.retries = retries
        self.max_in_flight = max_in_flight
        self.points_per_task = max(1, points_per_task)

    @property
    def dashboard(self) -> str | None:
        try:
            services = self.client.scheduler_info().get("services", {})
        except Exception:  # noqa: BLE001 - informational only
            return None
        if "dashboard" not in services or not self._bokeh:
            return None
        return self.client.dashboard_link

    def threads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def map(self, points: list[Point], fn: Callable) -> Iterator[tuple[Point, dict, float]]:
        """Yield (point, result, queued time) as points finish, with at most
        ``max_in_flight`` tasks (default 4 × the cluster's threads, >= 8) submitted at once;
        each task computes ``points_per_task`` points (cheap points: less overhead each)."""
        from distributed import as_completed  # local: the optional `distributed` extra

        k = self.points_per_task
        chunk_list = [points[i : i + k] for i in range(0, len(points), k)]
        # never more than there are tasks: --max-in-flight 10^12 must not loop 10^12 times
        limit = min(self.max_in_flight or max(8, 4 * self.threads()), len(chunk_list))
        chunks = iter(chunk_list)
        meta: dict[str, tuple[list[Point], float]] = {}

        def submit():
            ps = next(chunks, None)
            if ps is None:
                return None
            if len(ps) == 1:
                fut = self.client.submit(fn, ps[0].params, key=f"point-{ps[0].hash}",
                                         retries=self.retries)  # fmt: skip
            else:
                fut = self.client.submit(run_chunk, fn, [p.params for p in ps],
                                         key=f"points-{ps[0].hash}-{len(ps)}",
                                         retries=self.retries)  # fmt: skip
            meta[fut.key] = (ps, time.time())
            return fut

        first = [f for f in (submit() for _ in range(limit)) if f is not None]
        ac = as_completed(first)
        try:
            for fut in ac:
                ps, queued = meta.pop(fut.key)
                try:
                    res = fut.result()
                    results = [res] if len(ps) == 1 else res
                except Exception as e:  # noqa: BLE001 - e.g. KilledWorker: record, go on
                    results = [_lost(p, e) for p in ps]
                fut.release()
                for p, r in zip(ps, results, strict=True):
                    yield p, r, queued
                nxt = submit()
                if nxt is not None:
                    ac.add(nxt)
        finally:
            for f in list(ac.futures):
                f.cancel()

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def run_sweep(
    spec: SweepSpec | str | Path,
    db: str | Path | ResultsDB,
    *,
    scheduler: str | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    workers: int | None = None,
    point_fn: Callable[[dict], dict] = run_point,
    max_in_flight: int | None = None,
    points_per_task: int = 1,
    on_executor: Callable[[Any], None] | None = None,
) -> SweepReport:
    """Run every point of ``spec`` and record it in the SQLite database ``db``.

    scheduler: None (an embedded Dask LocalCluster of ``workers`` processes, default one per
    CPU), ``"serial"`` (in this process, in grid order: the reference), or the address of an
    existing Dask scheduler (``tcp://host:port``).
    resume: skip points the database already holds (``error`` rows are recomputed); without
    it, a database that already holds points of this spec is refused.
    progress: ``progress(done, failed, total, note)`` after each result.
    max_in_flight / points_per_task: tasks submitted at once, points per task (Dask only).
    point_fn: the function computing a point (module-level, so workers can import it).
    on_executor: called with the Dask executor once it is up (benchmarks time from there).
    """
    check_scheduler(scheduler, "scheduler")
    if scheduler is None:
        check_workers(workers, "workers")
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    own = not isinstance(db, ResultsDB)
    rdb = ResultsDB(db) if own else db
    t0 = time.perf_counter()
    executor = None
    try:
        hashes = [p.hash for p in spec.points]
        finished = rdb.done(hashes)
        if finished and not resume:
            raise TensorProgError(
                f"{rdb.path} already holds {len(finished)} of the {len(hashes)} points of "
                "this sweep",
                hint="add --resume to compute only the missing points, or use a new --db file",
            )
        todo = [p for p in spec.points if p.hash not in finished]
        report = SweepReport(total=len(spec.points), skipped=len(spec.points) - len(todo))
        rdb.start_sweep(spec.name, spec.source, spec.text, spec.version, len(spec.points))
        if scheduler == "serial" or not todo:
            report.executor = "serial" if todo else "nothing to do"
            results = _serial(todo, point_fn)
        else:
            executor = DaskExecutor(scheduler, workers, max_in_flight=max_in_flight,
                                    points_per_task=points_per_task)  # fmt: skip
            report.executor = "dask " + (scheduler or f"LocalCluster({executor.threads()})")
            report.dashboard = executor.dashboard
            if on_executor is not None:
                on_executor(executor)
            results = executor.map(todo, point_fn)
        note = f"dashboard {report.dashboard}" if report.dashboard else ""
        if progress is not None:
            progress(report.skipped, 0, report.total, note)
        for point, res, queued in results:
            rdb.record(point, spec.version, spec.name, res, queued)
            report.computed += 1
            report.statuses[res["status"]] = report.statuses.get(res["status"], 0) + 1
            if progress is not None:
                progress(report.skipped + report.computed, report.failed, report.total, note)
        report.seconds = time.perf_counter() - t0
        return report
    finally:
        if executor is not None:
            executor.close()
        if own:
            rdb.close()
