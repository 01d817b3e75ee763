"""Sweeps on a real Dask cluster: a `dask scheduler` and two `dask worker` processes started as
subprocesses on 127.0.0.1, single-threaded, no dashboard, killed in teardown.

* results equal the serial run's (limits as exact text, finite runs bit for bit: same seeds,
  same numpy code, widths small enough that BLAS does not split sums across threads);
* killing a worker mid-sweep: the scheduler reschedules its points, every point is stored
  exactly once;
* killing the client (SIGKILL of the CLI process) mid-sweep, then ``--resume``: no finished
  point is recomputed (its finished time and run counter are unchanged), none is lost, and the
  database passes ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from tensorprog.sweep import parse_spec, run_sweep  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

GRID = """\
[sweep]
name = "dask-test"
depth = [1, 2]
activation = ["x", "tanh(x)"]
lr = ["1/10", "1/4"]
inputs = "1,-1,1"
targets = "1,1,-1"
width = ["limit", 32]
mode = "auto"
seeds = 2
"""

SLOW = """\
[sweep]
name = "slow"
depth = 1
activation = "x"
lr = {{ log2 = [-{n}, -1], num = {n} }}
inputs = "1,-1"
targets = "1,1"
width = 16
seeds = 2
sleep = {sleep}
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = "1"
    return env


def _wait(cond, timeout: float, what: str, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Cluster:
    def __init__(self, tmp: Path) -> None:
        self.procs: list[subprocess.Popen] = []
        self.logs = tmp
        try:
            self._start_all(tmp)
        except BaseException:  # never leave processes behind when start-up fails
            self.close()
            raise

    def _start_all(self, tmp: Path) -> None:
        # Port 0: the scheduler binds a free port itself and writes its address to a file (a
        # port probed free beforehand can be taken by another process before it binds).
        info = tmp / "scheduler.json"
        self.scheduler = self._start("scheduler", [
            "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
            "--no-dashboard", "--scheduler-file", str(info)])  # fmt: skip

        def address():
            if self.scheduler.poll() is not None:
                raise AssertionError("the scheduler exited:\n"
                                     + (tmp / "scheduler.log").read_text()[-2000:])
            try:
                return json.loads(info.read_text())["address"]
            except (OSError, ValueError, KeyError):
                return None

        self.address = _wait(address, 60, "the scheduler's address file")
        self.workers = [self._start(f"worker{i}", [
            "-m", "distributed.cli.dask_worker", self.address, "--nthreads", "1",
            "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{i}"])
            for i in range(2)]  # fmt: skip
        from distributed import Client

        def ready():
            try:
                with Client(self.address, timeout="2s") as c:
                    return len(c.nthreads()) == 2
            except OSError:
                return False

        _wait(ready, 60, "the scheduler and 2 workers", step=0.5)

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")
        p = subprocess.Popen([sys.executable, *args], stdout=log, stderr=subprocess.STDOUT,
                             env=_env(), start_new_session=True)  # fmt: skip
        log.close()
        self.procs.append(p)
        return p

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


def _results(db: Path) -> dict[str, tuple]:
    con = sqlite3.connect(db)
    try:
        pts = dict(con.execute("SELECT hash, status FROM points"))
        sc: dict[str, dict] = {}
        for h, name, text in con.execute("SELECT hash, name, text FROM scalars"):
            sc.setdefault(h, {})[name] = text
    finally:
        con.close()
    return {h: (st, sc.get(h, {})) for h, st in pts.items()}


def test_cluster_results_equal_serial(cluster, tmp_path):
    spec = parse_spec(GRID, "grid.toml", version="t")
    assert len(spec.points) == 24
    serial = run_sweep(spec, tmp_path / "serial.sqlite", scheduler="serial")
    assert serial.statuses == {"ok": 24}
    dist = run_sweep(spec, tmp_path / "dask.sqlite", scheduler=cluster.address)
    assert dist.statuses == {"ok": 24}
    chunked = run_sweep(spec, tmp_path / "chunks.sqlite", scheduler=cluster.address,
                        points_per_task=5)  # fmt: skip
    assert chunked.statuses == {"ok": 24}
    a, b = _results(tmp_path / "serial.sqlite"), _results(tmp_path / "dask.sqlite")
    assert a == b
    assert _results(tmp_path / "chunks.sqlite") == a
    con = sqlite3.connect(tmp_path / "dask.sqlite")
    workers = {w for (w,) in con.execute("SELECT DISTINCT worker FROM points")}
    con.close()
    assert len(workers) == 2  # both workers computed points


def test_killed_worker_points_are_rescheduled_once(cluster, tmp_path):
    """16 points of 0.3 s on 2 workers; after 3 results one worker is SIGKILLed while holding
    points: the scheduler reruns them on the survivor and each point is stored once."""
    spec = parse_spec(SLOW.format(n=8, sleep=0.3), "slow.toml", version="t")
    assert len(spec.points) == 16
    victim = cluster.workers[0]

    def progress(done, failed, total, note):
        if done == 3 and victim.poll() is None:
            os.killpg(victim.pid, signal.SIGKILL)

    db = tmp_path / "k.sqlite"
    rep = run_sweep(spec, db, scheduler=cluster.address, progress=progress, max_in_flight=8)
    assert victim.poll() is not None
    assert rep.computed == 16 and rep.statuses == {"ok": 16}
    con = sqlite3.connect(db)
    n, distinct, runs = con.execute(
        "SELECT COUNT(*), COUNT(DISTINCT hash), SUM(runs) FROM points").fetchone()
    assert (n, distinct, runs) == (16, 16, 16)
    assert {h for (h,) in con.execute("SELECT hash FROM points")} == {p.hash for p in spec.points}
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


def _rows(db: Path) -> dict[str, tuple]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return {h: (f, r) for h, f, r in con.execute("SELECT hash, finished, runs FROM points")}
    except sqlite3.OperationalError:  # the client has not created the tables yet
        return {}
    finally:
        con.close()


def test_killed_client_then_resume(cluster, tmp_path):
    """The CLI client is SIGKILLed after >= 4 of 24 points are committed; --resume computes
    exactly the missing points and leaves the finished rows untouched."""
    spec_file = tmp_path / "slow.toml"
    spec_file.write_text(SLOW.format(n=12, sleep=0.25))
    db = tmp_path / "c.sqlite"
    cmd = [sys.executable, "-m", "tensorprog", "sweep", str(spec_file), "--db", str(db),
           "--scheduler", cluster.address, "--no-progress", "--max-in-flight", "4"]  # fmt: skip
    client = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              start_new_session=True)  # fmt: skip
    try:
        _wait(lambda: db.exists() and len(_rows(db)) >= 4, 90, "4 committed points")
        os.killpg(client.pid, signal.SIGKILL)
        client.wait(timeout=20)
    finally:
        if client.poll() is None:
            os.killpg(client.pid, signal.SIGKILL)
    assert client.returncode == -signal.SIGKILL
    before = _rows(db)
    assert 4 <= len(before) < 24
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()

    out = subprocess.run([*cmd, "--resume", "--json"], env=_env(), capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    import json

    rep = json.loads(out.stdout)
    assert rep["skipped"] == len(before) and rep["computed"] == 24 - len(before)
    after = _rows(db)
    assert len(after) == 24
    for h, row in before.items():
        assert after[h] == row  # same finished time, runs == 1: not recomputed
    assert all(r == 1 for _, r in after.values())
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT COUNT(DISTINCT hash) FROM points").fetchone()[0] == 24
    con.close()


def test_embedded_local_cluster(tmp_path):
    """The default executor: an embedded LocalCluster of 2 processes, results as serial."""
    spec = parse_spec(GRID.replace('activation = ["x", "tanh(x)"]', 'activation = "x"'),
                      "grid.toml", version="t")  # fmt: skip
    serial = run_sweep(spec, tmp_path / "s.sqlite", scheduler="serial")
    rep = run_sweep(spec, tmp_path / "l.sqlite", workers=2)
    assert rep.executor.startswith("dask LocalCluster") and rep.statuses == serial.statuses
    assert _results(tmp_path / "s.sqlite") == _results(tmp_path / "l.sqlite")


def test_ctrl_c_keeps_finished_points_and_stops_the_cluster(tmp_path):
    """SIGINT to the CLI running an embedded LocalCluster: exit code 130, the points finished
    so far are committed, the worker processes it started are gone, and --resume completes."""
    psutil = pytest.importorskip("psutil")
    spec_file = tmp_path / "slow.toml"
    spec_file.write_text(SLOW.format(n=8, sleep=0.25))
    db = tmp_path / "i.sqlite"
    cmd = [sys.executable, "-m", "tensorprog", "sweep", str(spec_file), "--db", str(db),
           "--workers", "2", "--no-progress"]  # fmt: skip
    client = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              start_new_session=True)  # fmt: skip
    children = []
    try:
        _wait(lambda: db.exists() and len(_rows(db)) >= 2, 90, "2 committed points")
        children = psutil.Process(client.pid).children(recursive=True)
        client.send_signal(signal.SIGINT)
        _, err = client.communicate(timeout=60)
    finally:
        if client.poll() is None:
            os.killpg(client.pid, signal.SIGKILL)
            client.wait(timeout=20)
    assert client.returncode == 130, err
    assert b"--resume" in err
    done = _rows(db)
    assert 2 <= len(done) < 16
    assert children, "the LocalCluster's worker processes were not found"
    _wait(lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE
                          for c in children), 30, "the worker processes to exit")
    out = subprocess.run([*cmd, "--resume", "--scheduler", "serial", "--json"], env=_env(),
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    after = _rows(db)
    assert len(after) == 16 and all(after[h] == row for h, row in done.items())
