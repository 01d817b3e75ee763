"""Sweep specs, hashing, the SQLite database, the serial executor, export and the CLI front end.

The distributed parts (a real scheduler and workers, killed workers and clients) are in
test_sweep_dask.py.
"""

from __future__ import annotations

import csv
import json
import math
import sqlite3
from fractions import Fraction
from pathlib import Path

import pytest

from tensorprog.cli import main
from tensorprog.sweep import (
    ResultsDB,
    SpecError,
    export,
    load_spec,
    parse_spec,
    run_point,
    run_sweep,
)
from tensorprog.sweep.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]

SMALL = """\
[sweep]
name = "small"
depth = [1, 2]
activation = ["x", "x^2"]
lr = ["1/100", "1/50"]
inputs = "1,-1,1"
targets = "1,1,-1"
width = ["limit", 32]
seeds = 2
"""


def _write(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


# --------------------------------------------------------------------------- spec and grid
def test_grid_is_the_product_of_the_lists():
    """2 depths × 2 activations × 2 lrs × (1 limit + 2 seeds at width 32) = 24 points."""
    spec = parse_spec(SMALL, "small.toml", version="1")
    assert len(spec.points) == 24
    assert len({p.hash for p in spec.points}) == 24
    limits = [p for p in spec.points if p.params["width"] == "limit"]
    assert len(limits) == 8 and all(p.params["seed"] is None for p in limits)
    finite = [p for p in spec.points if p.params["width"] == 32]
    assert sorted({p.params["seed"] for p in finite}) == [0, 1]
    assert {p.params["lr"] for p in spec.points} == {"1/100", "1/50"}
    assert spec.points[0].params["inputs"] == [["1"], ["-1"], ["1"]]


def test_log2_range_is_exact_powers_of_two():
    """lr = { log2 = [-3, 1], num = 5 } is η = 1/8, 1/4, 1/2, 1, 2 exactly; num = 3 over
    [-1, 0] puts a midpoint at 2^-1/2, which is irrational and given as float text."""
    spec = parse_spec(SMALL.replace('lr = ["1/100", "1/50"]', "lr = { log2 = [-3, 1], num = 5 }")
                      .replace("depth = [1, 2]", "depth = 1")
                      .replace('activation = ["x", "x^2"]', 'activation = "x"')
                      .replace('width = ["limit", 32]', 'width = "limit"'), version="1")
    assert [p.params["lr"] for p in spec.points] == ["1/8", "1/4", "1/2", "1", "2"]
    assert [p.params["log2_lr"] for p in spec.points] == [-3, -2, -1, 0, 1]
    spec = parse_spec(SMALL.replace('lr = ["1/100", "1/50"]', "lr = { log2 = [-1, 0], num = 3 }")
                      .replace('width = ["limit", 32]', 'width = "limit"'), version="1")
    lrs = sorted({p.params["lr"] for p in spec.points}, key=Fraction)
    assert lrs[0] == "1/2" and lrs[2] == "1"
    assert float(Fraction(lrs[1])) == pytest.approx(2 ** -0.5, rel=1e-15)


def test_steps_cycle_the_examples():
    spec = parse_spec(SMALL.replace("seeds = 2", "seeds = 2\nsteps = 5"), version="1")
    p = spec.points[0].params
    assert p["steps"] == 5
    assert p["inputs"] == [["1"], ["-1"], ["1"], ["1"], ["-1"]]
    assert p["targets"] == ["1", "1", "-1", "1", "1"]


def test_several_tables_are_a_union_and_shared_points_run_once():
    text = "[[sweep]]\n" + SMALL.split("\n", 1)[1] + "\n[[sweep]]\n" + SMALL.split("\n", 1)[1]
    spec = parse_spec(text, version="1")
    assert len(spec.points) == 24  # the second table names the same points


def test_data_source_gives_exact_rational_examples():
    """diabetes projected to 2 inputs: 8 examples of 2 coordinates, exact 2-decimal rationals,
    eval on the training examples; the derived train_loss is their mean ½(f − y)²."""
    spec = parse_spec(
        '[sweep]\ndepth = 1\nactivation = "x"\nlr = "1/4"\nwidth = "limit"\nmode = "float"\n'
        'data = { source = "diabetes", dims = 2, examples = 8 }\n', version="1")
    (p,) = spec.points
    assert len(p.params["inputs"]) == 8 and all(len(x) == 2 for x in p.params["inputs"])
    assert all((Fraction(v) * 100).denominator == 1 for x in p.params["inputs"] for v in x)
    res = run_point(p.params)
    assert res["status"] == "ok", res["message"]
    f = [res["outputs"][f"f_8_{e}"][1] for e in range(8)]
    ys = [float(Fraction(y)) for y in p.params["targets"]]
    want = sum(0.5 * (a - b) ** 2 for a, b in zip(f, ys)) / 8
    assert res["outputs"]["train_loss"][1] == pytest.approx(want, rel=1e-12)


def test_shipped_preset_equals_the_spec_file_and_loads():
    assert (ROOT / "programs/sweeps/mutransfer.toml").read_text() == PRESETS["mutransfer"]
    spec = load_spec(ROOT / "programs/sweeps/mutransfer.toml", version="1")
    widths = {p.params["width"] for p in spec.points}
    assert widths == {"limit", 64, 128, 256, 512, 1024, 2048, 4096}
    sp_limits = [p for p in spec.points
                 if p.params["parametrization"] == "sp" and p.params["width"] == "limit"]
    assert not sp_limits


# --------------------------------------------------------------------------- located errors
@pytest.mark.parametrize(
    "edit, where, words",
    [
        (("seeds = 2", "seeds = 2\nwidht = 3"), (10, 1), "unknown key 'widht'"),
        (('depth = [1, 2]', "depth = []"), (3, 1), "empty"),
        (('width = ["limit", 32]', 'width = ["limit", -32]'), (8, 19), "positive"),
        (('lr = ["1/100", "1/50"]', 'lr = ["1/100", "1/x"]'), (5, 17), "cannot read '1/x'"),
        (('lr = ["1/100", "1/50"]', 'lr = ["1/100", "1/0"]'), (5, 17), "cannot read '1/0'"),
        (('lr = ["1/100", "1/50"]', "lr = 0.01"), (5, 6), "inexact"),
        (('targets = "1,1,-1"', 'targets = "1,1,z"'), (7, 16), "cannot read 'z'"),
        (('targets = "1,1,-1"', 'targets = "1,1"'), (7, 1), "3 inputs but 2 targets"),
        (("seeds = 2", "seeds = 0"), (9, 9), ">= 1"),
        (('activation = ["x", "x^2"]', 'activation = ["x", "foo(x)"]'), (4, 21), "foo"),
        (("seeds = 2", "seeds = 2\nmode = \"fast\""), (10, 9), "one of auto"),
        (("seeds = 2", "seeds = 2\nparametrization = \"sp\""), (10, 20), "needs parametrization"),
        (("depth = [1, 2]", "depth = [1, 2"), (4, 1), "invalid TOML"),
    ],
)
def test_bad_specs_give_located_errors(tmp_path, edit, where, words):
    """The place is the offending value (counted by hand in the edited line: e.g. in
    ``width = ["limit", -32]`` the '-' is column 19), or the key, or TOML's own place."""
    path = _write(tmp_path, SMALL.replace(*edit))
    with pytest.raises(SpecError) as ei:
        load_spec(path)
    err = ei.value
    assert words in err.message
    assert err.loc is not None and err.loc.file == str(path)
    assert (err.loc.line, err.loc.col) == where, err.format()
    assert f"{path}:{where[0]}:{where[1]}" in err.format()


def test_missing_sweep_table_and_missing_key(tmp_path):
    with pytest.raises(SpecError, match="no \\[sweep\\] table"):
        parse_spec("# nothing here\n")
    with pytest.raises(SpecError, match="missing key 'lr'") as ei:
        parse_spec("[sweep]\ndepth = 1\nactivation = 'x'\ninputs = '1'\ntargets = '1'\n", "f")
    assert (ei.value.loc.line, ei.value.loc.col) == (1, 1)


# --------------------------------------------------------------------------- hashing
def test_identical_points_hash_identically_and_changes_rehash():
    a = parse_spec(SMALL, "a.toml", version="1.0")
    b = parse_spec(SMALL, "b.toml", version="1.0")
    assert [p.hash for p in a.points] == [p.hash for p in b.points]
    c = parse_spec(SMALL, "a.toml", version="1.1")  # a new package version: new hashes
    assert not {p.hash for p in a.points} & {p.hash for p in c.points}
    d = parse_spec(SMALL.replace('"1/50"', '"1/40"'), "a.toml", version="1.0")
    same = {p.hash for p in a.points} & {p.hash for p in d.points}
    assert len(same) == 12  # the η = 1/100 half of the grid is unchanged
    e = parse_spec(SMALL.replace('"1/50"', '"0.02"'), "a.toml", version="1.0")  # same number
    assert [p.hash for p in a.points] == [p.hash for p in e.points]


# --------------------------------------------------------------------------- statuses
def test_statuses_ok_budget_diverged_error():
    """x² with d = 2 over 6 steps outgrows a 1 ms budget; SP at η = 2^40 overflows to inf;
    logistic loss with a non-±1 label is refused by the builder (an error with its message)."""
    base = parse_spec(SMALL, version="1").points[0].params
    assert run_point(base)["status"] == "ok"
    slow = {**base, "activation": "x^2", "inputs": [["1", "1/2"]] * 6, "targets": ["1"] * 6,
            "budget": {"seconds": 0.001}, "mode": "exact"}
    r = run_point(slow)
    assert r["status"] == "budget" and "budget" in r["message"]
    wild = {**base, "width": 64, "seed": 0, "parametrization": "sp",
            "lr": str(2 ** 40), "activation": "x", "inputs": [["1"]] * 40, "targets": ["1"] * 40}
    r = run_point(wild)
    assert r["status"] == "diverged", r
    bad = {**base, "loss": "logistic", "targets": ["2", "1", "1"]}
    r = run_point(bad)
    assert r["status"] == "error" and "logistic" in r["message"]


# --------------------------------------------------------------------------- serial + db
def test_serial_sweep_records_every_point_with_exact_values(tmp_path):
    """Limits are stored as exact text: depth 1, φ = x, one step on (ξ, y) = (1, 1) at η:
    f₀ = 0 (μP init), loss₀ = ½; the exact values must equal derive_limit's."""
    spec = parse_spec(SMALL, version="1")
    db = tmp_path / "r.sqlite"
    rep = run_sweep(spec, db, scheduler="serial")
    assert rep.computed == 24 and rep.statuses == {"ok": 24}
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT COUNT(*), COUNT(DISTINCT hash) FROM points").fetchone() == (24, 24)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    p0 = spec.points[0]
    rows = dict(con.execute("SELECT name, text FROM scalars WHERE hash = ?", (p0.hash,)))
    assert rows["f_0"] == "0" and rows["loss_0"] == "1/2"
    from tensorprog.builders.mlp import mlp_program
    from tensorprog.zcalc import derive_limit

    pp = p0.params
    lim = derive_limit(mlp_program(pp["depth"], pp["activation"], pp["inputs"], pp["targets"],
                                   pp["lr"]), mode="auto")
    for name, v in lim.outputs.items():
        assert rows[name] == str(v)
    con.close()
    # a second run without --resume is refused; with it nothing is recomputed
    with pytest.raises(Exception, match="--resume"):
        run_sweep(spec, db, scheduler="serial")
    rep = run_sweep(spec, db, scheduler="serial", resume=True)
    assert rep.skipped == 24 and rep.computed == 0


def test_changed_version_or_spec_reruns(tmp_path):
    db = tmp_path / "r.sqlite"
    run_sweep(parse_spec(SMALL, version="1"), db, scheduler="serial")
    rep = run_sweep(parse_spec(SMALL, version="2"), db, scheduler="serial", resume=True)
    assert rep.computed == 24 and rep.skipped == 0
    rep = run_sweep(parse_spec(SMALL.replace('"1/50"', '"1/40"'), version="2"), db,
                    scheduler="serial", resume=True)
    assert rep.computed == 12 and rep.skipped == 12
    with ResultsDB(db) as r:
        assert sum(r.counts().values()) == 60


def test_error_rows_are_retried_on_resume_and_never_duplicated(tmp_path):
    db = tmp_path / "r.sqlite"
    spec = parse_spec(SMALL, version="1")
    calls = []

    def flaky(params):
        calls.append(1)
        r = run_point(params)
        if len(calls) <= 3:
            r = {**r, "status": "error", "message": "simulated failure", "outputs": {}}
        return r

    rep = run_sweep(spec, db, scheduler="serial", point_fn=flaky)
    assert rep.statuses == {"error": 3, "ok": 21}
    rep = run_sweep(spec, db, scheduler="serial", resume=True)
    assert rep.computed == 3 and rep.statuses == {"ok": 3}
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*), SUM(runs) FROM points").fetchone() == (24, 27)
    assert con.execute("SELECT COUNT(*) FROM points WHERE status != 'ok'").fetchone()[0] == 0


def test_export_csv_has_every_point_and_scalar(tmp_path):
    db = tmp_path / "r.sqlite"
    spec = parse_spec(SMALL, version="1")
    run_sweep(spec, db, scheduler="serial")
    out = tmp_path / "r.csv"
    assert export(db, out) == 24
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 24 and {r["hash"] for r in rows} == {p.hash for p in spec.points}
    lim = next(r for r in rows if r["hash"] == spec.points[0].hash)
    assert lim["loss_0.exact"] == "1/2" and float(lim["loss_0"]) == 0.5
    assert json.loads(lim["inputs"]) == [["1"], ["-1"], ["1"]]
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(Exception, match="pyarrow"):
            export(db, tmp_path / "r.parquet", "parquet")


# --------------------------------------------------------------------------- CLI
def test_cli_serial_sweep_export_and_errors(tmp_path, capsys):
    spec = _write(tmp_path, SMALL)
    db = tmp_path / "c.sqlite"
    assert main(["sweep", str(spec), "--db", str(db), "--scheduler", "serial", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["computed"] == 24 and out["statuses"] == {"ok": 24}
    assert main(["sweep", str(spec), "--db", str(db), "--scheduler", "serial"]) == 1
    assert "--resume" in capsys.readouterr().err
    assert main(["sweep", "export", "--db", str(db), "--out", str(tmp_path / "c.csv")]) == 0
    assert "wrote 24 points" in capsys.readouterr().out
    bad = _write(tmp_path, SMALL.replace("seeds = 2", "seeds = 2\nwidht = 1"), "bad.toml")
    assert main(["sweep", str(bad), "--db", str(tmp_path / "x.sqlite")]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:10:1" in err and "did you mean 'width'" in err


def test_plot_draws_figure_and_finds_optima(tmp_path, capsys):
    """A tiny μTransfer grid (φ = x, 4 steps, η = 2^-4 … 2^0, widths 64/256 + limit): the plot
    is written and each width gets an optimum inside the grid."""
    text = ('[sweep]\ndepth = 1\nactivation = "x"\nmode = "float"\nsteps = 4\n'
            'lr = { log2 = [-4, 0], num = 5 }\nwidth = ["limit", 64, 256]\nseeds = 2\n'
            'data = { source = "diabetes", dims = 2, examples = 4 }\n')
    db = tmp_path / "m.sqlite"
    run_sweep(parse_spec(text, version="1"), db, scheduler="serial")
    png = tmp_path / "m.png"
    assert main(["sweep", "plot", "--db", str(db), "--out", str(png), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert png.stat().st_size > 10_000
    widths = {r["width"] for r in out["optima"]}
    assert widths == {"limit", 64, 256}
    for r in out["optima"]:
        assert -4 <= r["best_log2_lr"] <= 0 and math.isfinite(r["best_loss"])


def test_progress_line_counts_and_eta():
    """Forced into a non-terminal stream, the line reports done / failed / remaining and an
    ETA from this run's rate: 2 points of 10 done after the start → 8 remaining."""
    import io

    from tensorprog.sweep.progress import SweepProgress

    buf = io.StringIO()
    bar = SweepProgress(force=True, delay=0.0, stream=buf)
    bar(0, 0, 10, "dashboard http://127.0.0.1:1/status")
    bar._last = -1e9
    bar(2, 1, 10)
    bar.close()
    out = buf.getvalue()
    assert "dashboard http://127.0.0.1:1/status" in out
    assert "2/10 done, 1 failed, 8 remaining, ETA" in out and "ETA ?" not in out.splitlines()[-1]


def test_cli_preset_and_export_errors(tmp_path, capsys):
    assert main(["sweep", "--preset", "nope", "--db", str(tmp_path / "x.sqlite")]) == 1
    assert "unknown sweep preset 'nope'" in capsys.readouterr().err
    assert main(["sweep", "--db", str(tmp_path / "x.sqlite")]) == 1
    assert "no sweep given" in capsys.readouterr().err
    assert main(["sweep", "export", "--db", str(tmp_path / "missing.sqlite"), "--out",
                 str(tmp_path / "o.csv")]) == 1
    assert "no such database" in capsys.readouterr().err
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        db = tmp_path / "r.sqlite"
        run_sweep(parse_spec(SMALL, version="1"), db, scheduler="serial")
        assert main(["sweep", "export", "--db", str(db), "--format", "parquet", "--out",
                     str(tmp_path / "o.parquet")]) == 1
        assert "needs pyarrow" in capsys.readouterr().err
