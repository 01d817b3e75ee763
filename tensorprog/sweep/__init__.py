"""Sweeps: grids of MLP limits and finite-width runs on Dask, recorded in SQLite.

    from tensorprog.sweep import load_spec, run_sweep, export
    spec = load_spec("programs/sweeps/mutransfer.toml")
    run_sweep(spec, "results.sqlite")              # an embedded Dask LocalCluster
    run_sweep(spec, "results.sqlite", scheduler="tcp://10.0.0.1:8786", resume=True)
    export("results.sqlite", "results.csv")

The spec format, the database layout and the CLI are described in docs/sweep.md.
"""

from .db import ResultsDB
from .export import export
from .point import STATUSES, run_point
from .run import SweepReport, run_sweep
from .spec import Point, SpecError, SweepSpec, load_spec, package_version, parse_spec, point_hash

__all__ = [
    "STATUSES",
    "Point",
    "ResultsDB",
    "SpecError",
    "SweepReport",
    "SweepSpec",
    "export",
    "load_spec",
    "package_version",
    "parse_spec",
    "point_hash",
    "run_point",
    "run_sweep",
]
