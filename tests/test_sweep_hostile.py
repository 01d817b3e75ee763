"""Hostile sweep inputs: every one is refused with one clear, located message (exit 1), before
anything big is built — no traceback, no hang, no out-of-memory kill.

Classes: grid sizes counted from the axis lengths (lr ranges, seeds, steps, batches, huge grids,
several tables together), number sizes (log2 exponents, 10^5000, 1e999999999), TOML nesting,
spec files that are not UTF-8 regular files, --scheduler / --workers / --max-in-flight, and
`sweep plot` / `export` outputs (formats, the database itself, an empty database).
Each case runs in-process and would take minutes or gigabytes if the guard were missing; the
autouse ``hang_guard`` (60 s of SIGALRM per test) is a generous guard, not a timing.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tensorprog.cli import main
from tensorprog.sweep import ResultsDB, SpecError, load_spec, parse_spec, run_sweep
from tensorprog.sweep import spec as specmod

HEAD = """\
[sweep]
depth = 1
activation = "x"
inputs = "1,-1"
targets = "1,1"
"""


@pytest.fixture(autouse=True)
def hang_guard():
    """Fail a test that runs 60 s (each takes well under a second when the guards work)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def hung(*_):
        pytest.fail("hung: a hostile input was not refused up front")

    old = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, 60)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _spec(extra: str, lr: str = 'lr = "1/10"') -> str:
    """HEAD + lr + extra (an extra ``depth = ...`` replaces HEAD's, lines shift up by one)."""
    head = HEAD.replace("depth = 1\n", "") if "depth =" in extra else HEAD
    return head + lr + "\n" + extra


def _refused(text: str, match: str, where: tuple[int, int] | None = None) -> SpecError:
    with pytest.raises(SpecError, match=match) as ei:
        parse_spec(text, "h.toml", version="1")
    e = ei.value
    assert "Traceback" not in str(e)
    if where is not None:
        assert e.loc is not None and (e.loc.file, e.loc.line, e.loc.col) == ("h.toml", *where)
    return e


# --------------------------------------------------------------------------- grid sizes
@pytest.mark.parametrize(
    ("lr", "extra", "match", "where"),
    [
        # 10^9 learning rates: refused from `num`, the list is never built
        ("lr = { log2 = [-8, 0], num = 1000000000 }", "", r"lr\.num = 1000000000", (6, 30)),
        # 2^100000 would have 30103 digits (past CPython's 4300-digit str limit)
        ("lr = { log2 = [0, 100000], num = 2 }", "", r"\|log2 η\| must be at most 1000", (6, 19)),
        ("lr = { log2 = [-100000, 0], num = 2 }", "", r"out of range", (6, 16)),
        ('lr = "1/10"', "width = 16\nseeds = 1000000000\n", r"'seeds' = 1000000000", (8, 9)),
        ('lr = "1/10"', "steps = 1000000000\n", r"'steps' = 1000000000 is more than", (7, 9)),
        ('lr = "1/10"', "steps = 1\nbatch_size = 1000000000\n", r"'batch_size'", (8, 14)),
        ('lr = "1/10"', "width = 1000000000000\n", r"width = 1000000000000 at depth 1", (7, 9)),
        # (2 - 1)·30000² = 9·10^8 weights > 2^29 ≈ 5.4·10^8; the error names the width
        ('lr = "1/10"', "depth = 2\nwidth = [64, 30000]\n", r"900,090,000 weights", (7, 14)),
        ('lr = "1/10"', "depth = 100000000000000000000\n", r"'depth' = 1000000000000", (6, 9)),
        # 1000 × 1000 steps-batches: each point would train on 10^6 examples
        ('lr = "1/10"', "steps = 1000\nbatch_size = 1000\n", r"1,000,000 examples", (7, 9)),
    ],
)
def test_sizes_are_bounded_before_expansion(lr, extra, match, where):
    _refused(_spec(extra, lr), match, where)


def test_huge_grid_counted_from_axis_lengths():
    """1000 depths × 1000 learning rates × 1000 widths = 10^9 points: the count (a product of
    three lengths) is refused naming the largest axis; nothing is expanded."""
    ns = ",".join(map(str, range(1, 1001)))
    text = (f"[sweep]\ndepth = [{ns}]\nactivation = \"x\"\ninputs = \"1,-1\"\n"
            f"targets = \"1,1\"\nlr = {{ log2 = [-999, 0], num = 1000 }}\nwidth = [{ns}]\n")
    e = _refused(text, r"1,000,000,000 points \(1000 depth × 1000 lr × 1000 width\)", (2, 1))
    assert "'depth'" in e.hint


def test_point_count_sums_over_tables(monkeypatch):
    """Two [[sweep]] tables of 3 points each (1 limit + 2 seeds) fit in 6 points, not in 5; the
    error is located at the second table's largest axis."""
    table = ("[[sweep]]\ndepth = 1\nactivation = \"x\"\ninputs = \"1,-1\"\ntargets = \"1,1\"\n"
             "lr = \"{lr}\"\nwidth = [\"limit\", 16]\nseeds = 2\n")
    text = table.format(lr="1/10") + table.format(lr="1/5")
    monkeypatch.setattr(specmod, "MAX_POINTS", 6)
    assert len(parse_spec(text, "h.toml", version="1").points) == 6
    monkeypatch.setattr(specmod, "MAX_POINTS", 5)
    e = _refused(text, r"3 points \(2 width × 2 seeds\) \(with 3 of the tables before it\)")
    assert e.loc.line == 15  # width and seeds tie at 2: the first listed, width (line 15)


def test_examples_of_all_points_are_bounded(monkeypatch):
    """Points × examples per point (steps × batch_size) is bounded too: 4 lrs × 10 steps × 1 =
    40 examples > 39."""
    monkeypatch.setattr(specmod, "MAX_SPEC_EXAMPLES", 39)
    text = _spec("steps = 10\n", 'lr = ["1/10", "1/20", "1/30", "1/40"]')
    _refused(text, r"4 points of this grid would hold 40 training examples")
    monkeypatch.setattr(specmod, "MAX_SPEC_EXAMPLES", 40)
    assert len(parse_spec(text, "h.toml", version="1").points) == 4


def test_sizes_at_the_bounds_are_accepted():
    """The bounds are inclusive. Weights at depth 2, 1-d inputs: w² + 3w ≤ 2^29 = 536,870,912
    holds for w = 23168 (536,825,728) and fails for 23169 (536,872,068). |log2 η| = 1000 gives
    2^1000 exactly (302 digits)."""
    two = _spec("depth = 2\nwidth = {}\n")
    spec = parse_spec(two.format(23168), "h.toml", "1")
    assert [p.params["width"] for p in spec.points] == [23168]
    _refused(two.format(23169), "536,872,068 weights")
    spec = parse_spec(_spec("", "lr = { log2 = [-1000, 1000], num = 3 }"), "h.toml", "1")
    lrs = [p.params["lr"] for p in spec.points]
    assert lrs == [f"1/{2**1000}", "1", str(2**1000)]
    assert [p.params["log2_lr"] for p in spec.points] == [-1000.0, 0.0, 1000.0]


# --------------------------------------------------------------------------- number sizes
@pytest.mark.parametrize(
    ("value", "match"),
    [
        ('"1e5000"', "too large to use"),  # an exact 5001-digit integer
        ('"1e999999999"', "too large to use"),  # Fraction() would compute 10^999999999
        ('"1e-99999999999999999999"', "too large to use"),
        ('"' + "9" * 5000 + '"', "too large to use"),
        ('"1/' + "9" * 5000 + '"', "too large to use"),
        ('"1e400"', r"\|log2 η\| = 1329 is more than 1000"),  # exact, but out of range
    ],
    ids=["1e5000", "1e999999999", "1e-huge", "5000 digits", "1/5000 digits", "1e400"],
)
def test_huge_numbers_refused_in_lr(value, match):
    _refused(_spec("", f"lr = {value}"), match, (6, 7))  # at the number, inside its quotes


def test_huge_numbers_refused_in_inputs():
    text = HEAD.replace('inputs = "1,-1"', 'inputs = "1,1e999999999"') + 'lr = "1/10"\n'
    _refused(text, "'inputs': the number '1e999999999' is too large", (4, 13))


def test_big_exact_numbers_print_past_the_str_limit():
    """A 1000-digit lr within |log2| ≤ 1000... cannot exist (10^999 is 2^3318); but the exact
    text of the lr range uses int_text, which prints past CPython's 4300-digit limit."""
    assert specmod._fraction_text(specmod.Fraction(10**5000, 3)).endswith("/3")
    assert len(specmod._fraction_text(specmod.Fraction(10**5000))) == 5001


def test_data_digits_bounded():
    text = HEAD.replace('inputs = "1,-1"\ntargets = "1,1"\n', "") + (
        'lr = "1/10"\ndata = { source = "diabetes", dims = 2, examples = 4, '
        "digits = 1000000000 }\n")
    _refused(text, r"'data' = 1000000000 is more than 17")


# --------------------------------------------------------------------------- files and TOML
@pytest.mark.parametrize("opener", ["[", "{a="])
def test_deep_nesting_is_a_located_error(opener):
    closer = {"[": "]", "{a=": "}"}[opener]
    value = opener * 5000 + "1" + closer * 5000
    text = _spec(f"budget = {value}\n")
    e = _refused(text, "nested more than 100 deep")
    assert e.loc is not None and e.loc.line == 7


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p.write_bytes(bytes(range(155, 256)) * 4), "byte 0 .* is not utf-8"),
        (lambda p: p.write_bytes(b"[sweep]\nname = \"caf\xe9\"\n"), "byte 19 .line 2. is not"),
        (lambda p: os.mkfifo(p), "named pipe"),
        (lambda p: p.mkdir(), "a directory"),
    ],
    ids=["binary", "latin-1", "fifo", "directory"],
)
def test_unreadable_spec_files(tmp_path, capsys, make, match):
    """Binary, Latin-1, a FIFO (which would block forever) and a directory: one message."""
    p = tmp_path / "spec.toml"
    make(p)
    with pytest.raises(SpecError, match=match):
        load_spec(p)
    rc = main(["sweep", str(p), "--db", str(tmp_path / "r.sqlite"), "--scheduler", "serial",
               "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err and "spec error: cannot read sweep spec" in err


# --------------------------------------------------------------------------- CLI flags
SMALL = _spec('width = ["limit", 16]\n')


def _cli(tmp_path: Path, capsys, *argv: str) -> tuple[int, str]:
    rc = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


@pytest.mark.parametrize("addr", ["bogus", "tcp://", "tcp://host", "tcp://h:0", "tcp://h:99999",
                                  "http://h:80", "tcp://h:80/x", "tcp://a b:1"])
def test_scheduler_address_validated_before_anything(tmp_path, capsys, addr):
    spec = tmp_path / "s.toml"
    spec.write_text(SMALL)
    db = tmp_path / "r.sqlite"
    rc, err = _cli(tmp_path, capsys, "sweep", str(spec), "--db", str(db), "--scheduler", addr,
                   "--no-progress")
    assert rc == 1 and f"--scheduler {addr!r} is not a Dask scheduler address" in err
    assert "tcp://HOST:PORT" in err and not db.exists()  # no database left behind
    with pytest.raises(Exception, match="not a Dask scheduler address"):
        run_sweep(parse_spec(SMALL, "s.toml", "1"), db, scheduler=addr)
    assert not db.exists()


@pytest.mark.parametrize("addr", ["tcp://127.0.0.1:8786", "127.0.0.1:8786", "tls://h.x:1",
                                  "tcp://[::1]:8786", "serial"])
def test_good_scheduler_addresses_pass(addr):
    from tensorprog.sweep.run import check_scheduler

    check_scheduler(addr)


def test_unreachable_scheduler_times_out():
    """A closed port: a clear error after the connect timeout (here 1 s), not a hang."""
    pytest.importorskip("distributed")
    from tensorprog.errors import TensorProgError
    from tensorprog.sweep.run import DaskExecutor

    with pytest.raises(TensorProgError, match="cannot reach the Dask scheduler"):
        DaskExecutor("tcp://127.0.0.1:1", connect_timeout="1s")


@pytest.mark.parametrize("n", ["100000", "0", "-3"])
def test_workers_bounded(tmp_path, capsys, n):
    from tensorprog.sweep.run import max_workers

    spec = tmp_path / "s.toml"
    spec.write_text(SMALL)
    rc, err = _cli(tmp_path, capsys, "sweep", str(spec), "--db", str(tmp_path / "r.sqlite"),
                   f"--workers={n}", "--no-progress")
    assert rc == 1 and "--workers" in err
    if n == "100000":
        assert f"more than {max_workers()}" in err and "CPU" in err


def test_max_in_flight_huge_does_not_loop(monkeypatch):
    """--max-in-flight 10^12 used to loop 10^12 times topping up the queue: now at most one
    submission per task (3 points: 3 submissions). A fake client stands in for the cluster."""
    distributed = pytest.importorskip("distributed")
    from tensorprog.sweep.run import DaskExecutor

    class FakeClient:
        calls = 0

        def submit(self, fn, *args, key, retries):
            FakeClient.calls += 1
            return type("F", (), {"key": key})()

    class NoneCompleted:
        futures: list = []

        def __init__(self, futures):
            assert len(futures) == 3

        def __iter__(self):
            return iter(())

    monkeypatch.setattr(distributed, "as_completed", NoneCompleted)
    ex = DaskExecutor.__new__(DaskExecutor)
    ex.client, ex.max_in_flight, ex.points_per_task, ex.retries = FakeClient(), 10**12, 1, 0
    points = parse_spec(_spec("", 'lr = ["1/10", "1/20", "1/30"]'), "h.toml", "1").points
    assert list(ex.map(points, lambda p: p)) == [] and FakeClient.calls == 3


# --------------------------------------------------------------------------- plot and export
@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    db = tmp_path / "demo.sqlite"
    run_sweep(parse_spec(SMALL, "s.toml", "1"), db, scheduler="serial")
    return db


@pytest.mark.parametrize("out", ["p.xyz", "p", "p.sqlite"])
def test_plot_needs_a_known_format(tmp_path, capsys, demo_db, out):
    rc, err = _cli(tmp_path, capsys, "sweep", "plot", "--db", str(demo_db), "--out",
                   str(tmp_path / out))
    assert rc == 1 and ".png, .pdf, .svg" in err and not (tmp_path / out).exists()


@pytest.mark.parametrize("action", ["plot", "export"])
def test_out_never_overwrites_the_database(tmp_path, capsys, demo_db, action):
    """Even with --force, and even when the database has a figure's name."""
    db = demo_db.rename(tmp_path / "demo.png")
    before = db.read_bytes()
    for out in (db, Path(str(db) + "-wal")) if action == "export" else (db,):
        rc, err = _cli(tmp_path, capsys, "sweep", action, "--db", str(db), "--out", str(out),
                       "--force")
        assert rc == 1 and "is the results database" in err and "destroy" in err
    assert db.read_bytes() == before
    with ResultsDB(db) as r:
        assert len(r.rows()) == 2


def test_plot_of_an_empty_database(tmp_path, capsys):
    db = tmp_path / "zero.sqlite"
    ResultsDB(db).close()
    rc, err = _cli(tmp_path, capsys, "sweep", "plot", "--db", str(db), "--out",
                   str(tmp_path / "p.png"))
    assert rc == 1 and "holds no points: there is nothing to plot" in err
    assert not (tmp_path / "p.png").exists()


def test_plot_to_svg(tmp_path, capsys):
    db = tmp_path / "d.sqlite"  # a data table: the points have the plotted train_loss
    run_sweep(parse_spec('[sweep]\ndepth = 1\nactivation = "x"\nmode = "float"\nsteps = 2\n'
                         'lr = ["1/8", "1/4"]\nwidth = "limit"\n'
                         'data = { source = "diabetes", dims = 2, examples = 4 }\n', "d.toml",
                         "1"), db, scheduler="serial")  # fmt: skip
    rc, _ = _cli(tmp_path, capsys, "sweep", "plot", "--db", str(db), "--out",
                 str(tmp_path / "p.svg"))
    assert rc == 0 and (tmp_path / "p.svg").read_text().lstrip().startswith("<?xml")


def test_fifo_database_refused(tmp_path, capsys):
    """sqlite would block forever reading a FIFO given as --db."""
    fifo = tmp_path / "db.sqlite"
    os.mkfifo(fifo)
    for argv in (["plot", "--out", str(tmp_path / "p.png")],
                 ["export", "--out", str(tmp_path / "e.csv")]):
        rc, err = _cli(tmp_path, capsys, "sweep", argv[0], "--db", str(fifo), *argv[1:])
        assert rc == 1 and "not a regular file" in err


def test_plot_refuses_a_database_without_the_plotted_loss(tmp_path, capsys):
    """A spec with inputs/targets (no data table) stores f_t and loss_t but no train_loss: the
    plot used to count every such point as diverged and print a table of 'diverged'."""
    from tensorprog.cli import main

    spec = tmp_path / "s.toml"
    spec.write_text('[sweep]\ndepth = 1\nactivation = "x"\ninputs = "1,-1"\n'
                    'targets = "1,1"\nlr = ["1/10", "1/20"]\nwidth = "limit"\n')
    db = tmp_path / "s.sqlite"
    assert main(["sweep", str(spec), "--db", str(db), "--scheduler", "serial",
                 "--no-progress"]) == 0  # fmt: skip
    capsys.readouterr()
    out = tmp_path / "p.png"
    assert main(["sweep", "plot", "--db", str(db), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "no point of this database has the scalar 'train_loss'" in err
    assert "loss_0" in err and "Traceback" not in err and not out.exists()
