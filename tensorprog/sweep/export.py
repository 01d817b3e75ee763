"""Export a results database to CSV or Parquet: one row per point.

Columns: the point's bookkeeping (hash, sweep, idx, status, message, version, queued, started,
finished, seconds, cpu, worker, engine, runs), its parameters (lists as JSON text), then per output
scalar ``<name>`` (float) and ``<name>.exact`` (exact text) and, for numeric limits,
``<name>.error``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from ..errors import TensorProgError
from .db import ResultsDB, read_rows

_META = ("hash", "sweep", "idx", "status", "message", "version", "queued", "started",
         "finished", "seconds", "cpu", "worker", "engine", "runs")  # fmt: skip


def table(db: str | Path | ResultsDB) -> tuple[list[str], list[dict[str, Any]]]:
    """(column names, rows) of the export."""
    pts = read_rows(db)
    pkeys: list[str] = []
    skeys: list[str] = []
    for p in pts:
        pkeys += [k for k in p["params"] if k not in pkeys]
        skeys += [k for k in p["scalars"] if k not in skeys]
    cols = list(_META) + pkeys
    for k in skeys:
        cols += [k, f"{k}.exact"]
        if any(p["scalars"].get(k, (None, None, None))[2] is not None for p in pts):
            cols.append(f"{k}.error")
    rows = []
    for p in pts:
        row: dict[str, Any] = {k: p[k] for k in _META}
        for k in pkeys:
            v = p["params"].get(k)
            row[k] = json.dumps(v) if isinstance(v, (list, dict)) else v
        for k, (text, value, err) in p["scalars"].items():
            row[k], row[f"{k}.exact"] = value, text
            if f"{k}.error" in cols:
                row[f"{k}.error"] = err
        rows.append(row)
    return cols, rows


def export(db: str | Path | ResultsDB, out: str | Path, fmt: str = "csv") -> int:
    """Write the database as ``fmt`` ("csv" or "parquet") to ``out``; returns the row count."""
    cols, rows = table(db)
    if fmt == "csv":
        with open(out, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=cols)
            w.writeheader()
            w.writerows(rows)
    elif fmt == "parquet":
        try:
            import pyarrow as pa  # local: optional, only for parquet output
            import pyarrow.parquet as pq
        except ImportError:
            raise TensorProgError("Parquet export needs pyarrow, which is not installed",
                                  hint="pip install pyarrow, or use --format csv") from None
        data = {c: [r.get(c) for r in rows] for c in cols}
        pq.write_table(pa.table(data), str(out))
    else:
        raise TensorProgError(f"unknown export format '{fmt}'", hint="csv or parquet")
    return len(rows)
