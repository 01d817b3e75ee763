"""The sweep results database: one SQLite file in WAL mode, written only by the client.

Tables:

* ``points``: one row per computed point, keyed by its content hash (UNIQUE: a point is never
  stored twice): the point's parameters as JSON, package version, status and message, timings
  (queued / started / finished as Unix seconds; wall and CPU seconds of compute), the worker, the
  ``engine`` that ran (the limit's mode, or ``finite``), and ``runs`` (how many times the row
  was computed: 1 unless an ``error`` was retried).
* ``scalars``: every output scalar of a point: exact text, float value, numeric error estimate.
* ``sweeps``: each invocation: the spec file, its text and the time.

Each result is committed as it arrives, so an interrupted sweep loses nothing it finished.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

from ..errors import TensorProgError

SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    hash TEXT PRIMARY KEY NOT NULL,
    sweep TEXT NOT NULL,
    idx INTEGER NOT NULL,
    params TEXT NOT NULL,
    version TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'budget', 'diverged', 'error')),
    message TEXT NOT NULL DEFAULT '',
    queued REAL, started REAL, finished REAL, seconds REAL, cpu REAL,
    worker TEXT, engine TEXT,
    runs INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS scalars (
    hash TEXT NOT NULL REFERENCES points(hash) ON DELETE CASCADE,
    name TEXT NOT NULL,
    text TEXT NOT NULL,
    value REAL,
    error REAL,
    PRIMARY KEY (hash, name)
);
CREATE TABLE IF NOT EXISTS sweeps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT, source TEXT, spec TEXT, version TEXT, started REAL, points INTEGER
);
"""


class ResultsDB:
    """The results database of a sweep (a thin layer over :mod:`sqlite3`)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:  # sqlite would block forever reading a FIFO: only regular files (or new ones)
            mode = os.stat(self.path).st_mode
        except OSError:
            mode = None
        if mode is not None and not stat.S_ISREG(mode):
            raise TensorProgError(f"{path}: not a usable SQLite database (not a regular file)",
                                  hint="give the path of a database file with --db")
        try:
            self.con = sqlite3.connect(self.path, timeout=30.0)
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at commit
            self.con.execute("PRAGMA foreign_keys=ON")
            self.con.executescript(SCHEMA)
        except sqlite3.DatabaseError as e:
            raise TensorProgError(f"{path}: not a usable SQLite database ({e})",
                                  hint="give a new file name with --db") from None  # fmt: skip

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> ResultsDB:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ writing
    def start_sweep(self, name: str, source: str, spec: str, version: str, points: int) -> None:
        with self.con:
            self.con.execute(
                "INSERT INTO sweeps (name, source, spec, version, started, points) "
                "VALUES (?, ?, ?, ?, ?, ?)", (name, source, spec, version, time.time(), points))

    def record(self, point, version: str, sweep: str, result: dict[str, Any],
               queued: float | None) -> None:  # fmt: skip
        """Store one point's result and commit. An ``error`` row may be replaced by a new run;
        any other existing row is kept (a finished point is never written twice)."""
        with self.con:
            cur = self.con.execute(
                "INSERT INTO points (hash, sweep, idx, params, version, status, message, queued,"
                " started, finished, seconds, cpu, worker, engine) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(hash) DO UPDATE SET status=excluded.status, "
                "message=excluded.message, queued=excluded.queued, started=excluded.started, "
                "finished=excluded.finished, seconds=excluded.seconds, cpu=excluded.cpu, "
                "worker=excluded.worker, "
                "engine=excluded.engine, runs=points.runs + 1 WHERE points.status = 'error'",
                (point.hash, sweep, point.index, json.dumps(point.params, sort_keys=True),
                 version, result["status"], result["message"], queued, result["started"],
                 result["finished"], result["seconds"], result.get("cpu"), result["worker"],
                 result["mode"]),
            )  # fmt: skip
            if cur.rowcount:
                self.con.execute("DELETE FROM scalars WHERE hash = ?", (point.hash,))
                self.con.executemany(
                    "INSERT INTO scalars (hash, name, text, value, error) VALUES (?,?,?,?,?)",
                    [(point.hash, k, t, v if v == v else None, e)
                     for k, (t, v, e) in result["outputs"].items()],
                )  # fmt: skip

    # ------------------------------------------------------------------ reading
    def done(self, hashes: list[str] | None = None, *, include_errors: bool = False) -> set[str]:
        """Hashes of recorded points (``error`` rows only with ``include_errors``)."""
        q = "SELECT hash FROM points" + ("" if include_errors else " WHERE status != 'error'")
        have = {h for (h,) in self.con.execute(q)}
        return have if hashes is None else have & set(hashes)

    def counts(self) -> dict[str, int]:
        return dict(self.con.execute("SELECT status, COUNT(*) FROM points GROUP BY status"))

    def rows(self) -> list[dict[str, Any]]:
        """Every point with its scalars: ``{..., "params": dict, "scalars": {name: (text,
        value, error)}}``, in grid order."""
        self.con.row_factory = sqlite3.Row
        try:
            pts = [dict(r) for r in self.con.execute("SELECT * FROM points ORDER BY sweep, idx")]
            sc: dict[str, dict[str, tuple]] = {}
            for r in self.con.execute("SELECT hash, name, text, value, error FROM scalars"):
                sc.setdefault(r["hash"], {})[r["name"]] = (r["text"], r["value"], r["error"])
        finally:
            self.con.row_factory = None
        for p in pts:
            p["params"] = json.loads(p["params"])
            p["scalars"] = sc.get(p["hash"], {})
        return pts

    def integrity(self) -> str:
        return self.con.execute("PRAGMA integrity_check").fetchone()[0]


def read_rows(db: str | Path | ResultsDB) -> list[dict[str, Any]]:
    """The rows of a results database given as an open :class:`ResultsDB` or as a path (opened
    and closed here; a missing file is an error, not a new empty database)."""
    if isinstance(db, ResultsDB):
        return db.rows()
    if not Path(db).exists():
        raise TensorProgError(f"{db}: no such database")
    rdb = ResultsDB(db)
    try:
        return rdb.rows()
    finally:
        rdb.close()
