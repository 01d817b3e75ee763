"""Hostile numeric flags and special files refused up front by the direct-trainer commands
(mlp, train, figure4, maml, word2vec): exit 1 and one clear message naming the flag, never a
traceback, a hang or an out-of-memory. Every case here used to hang past 60 s or die deep in
numpy; each now returns in well under a second because nothing large is built first."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from tensorprog.cli import main
from tensorprog.cli._args import MAX_NODES, check_program_size
from tensorprog.errors import TensorProgError

ROOT = Path(__file__).resolve().parents[1]
RNN = str(ROOT / "programs" / "models" / "rnn.tp")
MLP = ["mlp", "--depth", "1", "--activation", "x", "--inputs=1,-1", "--targets", "1,1",
       "--lr", "1/50", "--no-limit"]  # fmt: skip
TRAIN = ["train", RNN, "--inputs=1,2,1", "--targets=1", "--lr", "1/10", "--no-limit"]


@pytest.fixture(autouse=True)
def hang_guard():
    """A generous guard: a test that hangs fails after 120 s instead of stalling the suite."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def boom(*_):
        raise TimeoutError("no answer within 120 s: the command hangs")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(120)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run(capsys, argv: list[str]) -> tuple[int, str]:
    code = main(argv)
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.err


@pytest.mark.parametrize(
    "argv, needles",
    [
        # sizes: a depth, width or seed count far past any real use
        (["mlp", "--depth", "1000000", "--activation", "x", "--inputs", "1", "--targets", "1",
          "--lr", "1/50", "--no-limit"], ["--depth 1000000", "from 1 to 1,000"]),
        ([*MLP, "--width=99999999999", "--seeds", "2"], ["--width 99999999999", "1,000,000"]),
        ([*MLP, "--width", "4", "--seeds=1000000000"], ["--seeds 1000000000", "10,000"]),
        (["mlp", "--depth", "3", "--activation", "x", "--inputs", "1", "--targets", "1",
          "--lr", "1/50", "--no-limit", "--width", "200000", "--seeds", "1"],
         ["--width 200000", "GiB", "smaller --width"]),
        ([*TRAIN, "--width", "300000", "--seeds", "1"], ["--width 300000", "GiB"]),
        ([*TRAIN, "--steps=1000000000"], ["--steps 1000000000", "10,000"]),
        ([*TRAIN, "--epochs=1000000000"], ["--epochs 1000000000", "10,000"]),
        # seeds: numpy refuses negative ones
        ([*MLP, "--width", "4", "--seeds", "2", "--seed=-5"], ["--seed -5", "from 0"]),
        ([*TRAIN, "--width", "4", "--seed=-1"], ["--seed -1", "from 0"]),
    ],
    ids=["mlp-depth", "mlp-width", "mlp-seeds", "mlp-memory", "train-memory", "train-steps",
         "train-epochs", "mlp-seed", "train-seed"],
)
def test_mlp_and_train_refuse(capsys, argv, needles) -> None:
    code, err = run(capsys, argv)
    assert code == 1
    for needle in needles:
        assert needle in err, err


def test_train_program_size_is_estimated_before_building(capsys) -> None:
    """5,000 steps of the RNN is within --steps' range, but its program would have ~10⁸
    nodes (size ~4·steps²: every step's weights are the initial ones plus all earlier
    updates); refused from the 1-, 2- and 3-step programs alone."""
    code, err = run(capsys, [*TRAIN, "--steps", "5000"])
    assert code == 1 and "5,000 SGD steps" in err and "nodes" in err and "--steps" in err


def test_program_size_extrapolation_is_exact_on_a_quadratic() -> None:
    """Sizes 7 + 3t + 5t² at t = 1, 2, 3 determine the quadratic: at t = 500 it is
    7 + 1500 + 1,250,000 = 1,251,507 > MAX_NODES = 1,000,000; at t = 400 it is
    7 + 1200 + 800,000 = 801,207."""
    size = lambda t: 7 + 3 * t + 5 * t * t  # noqa: E731
    check_program_size(size, 400, "400 steps", hint="")  # under MAX_NODES: no error
    assert size(400) < MAX_NODES < size(500)
    with pytest.raises(TensorProgError, match="~1,251,507 nodes"):
        check_program_size(size, 500, "500 steps", hint="")


def test_mlp_steps_from_many_inputs_are_bounded(capsys) -> None:
    """12,000 inputs at batch size 1 are 12,000 SGD steps, over the 10,000-step bound (each
    step costs ~1 ms of building, so this used to run for minutes at 10⁵ inputs)."""
    xs = ",".join(["1"] * 12000)
    code, err = run(capsys, ["mlp", "--depth", "1", "--activation", "x", "--inputs", xs,
                             "--targets", xs, "--lr", "1/50", "--no-limit"])  # fmt: skip
    assert code == 1 and "10,000 SGD steps" in err and "--batch-size" in err


@pytest.mark.parametrize(
    "extra, needles",
    [
        (["--widths=99999999999"], ["--widths", "99,999,999,999", "1,000,000"]),
        (["--steps", "1000000000"], ["--steps 1000000000", "from 1 to 20"]),
        (["--data-seed=-1"], ["--data-seed -1"]),
        (["--widths", "50000", "--steps", "2"], ["--widths 50000", "GiB"]),
    ],
    ids=["widths", "steps", "data-seed", "memory"],
)
def test_figure4_refuses_before_writing(capsys, tmp_path, extra, needles) -> None:
    out = tmp_path / "f4"
    code, err = run(capsys, ["figure4", "--out", str(out), "--quiet", *extra])
    assert code == 1
    for needle in needles:
        assert needle in err, err
    assert not out.exists()  # refused before the output directory was made


@pytest.mark.parametrize(
    "extra, needles",
    [
        (["--widths=99999999999"], ["99,999,999,999", "100,000"]),
        (["--widths", "2", "--seeds=1000000000"], ["--seeds 1000000000", "from 1 to 100"]),
        (["--widths", "2", "--batches", "1000000000"], ["--batches 1000000000"]),
    ],
    ids=["widths", "seeds", "batches"],
)
def test_maml_refuses(capsys, tmp_path, extra, needles) -> None:
    code, err = run(capsys, ["maml", "--out", str(tmp_path / "m"), "--quick", "--kernels",
                             "none", "--no-progress", *extra])  # fmt: skip
    assert code == 1
    for needle in needles:
        assert needle in err, err


@pytest.fixture
def w2v_files(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the king rules the land\nthe queen rules the land\n" * 5)
    questions = tmp_path / "q.txt"
    questions.write_text(": s\nking queen the land\n")
    return corpus, questions, tmp_path


@pytest.mark.parametrize(
    "extra, needles",
    [
        (["--widths=99999999999"], ["99,999,999,999", "1,000,000"]),
        (["--widths", "4", "--init-seed=-1"], ["--init-seed -1"]),
        (["--widths", "4", "--seed=-1"], ["--seed -1"]),
        (["--widths", "4", "--epochs", "1000000000"], ["--epochs 1000000000", "1,000"]),
    ],
    ids=["widths", "init-seed", "seed", "epochs"],
)
def test_word2vec_refuses(capsys, w2v_files, extra, needles) -> None:
    corpus, questions, tmp = w2v_files
    code, err = run(capsys, ["word2vec", "--corpus", str(corpus), "--questions", str(questions),
                             "--no-gensim", "--no-progress", "--min-count", "1", "--out",
                             str(tmp / "o"), *extra])  # fmt: skip
    assert code == 1
    for needle in needles:
        assert needle in err, err


@pytest.mark.skipif(not hasattr(os, "mkfifo") or sys.platform == "win32", reason="no FIFOs")
@pytest.mark.parametrize("flag", ["--corpus", "--questions"])
def test_word2vec_refuses_a_fifo(capsys, w2v_files, flag) -> None:
    """Opening a FIFO nobody writes to blocks forever; it is refused by its file type."""
    corpus, questions, tmp = w2v_files
    fifo = tmp / "fifo.txt"
    os.mkfifo(fifo)
    files = {"--corpus": str(corpus), "--questions": str(questions), flag: str(fifo)}
    code, err = run(capsys, ["word2vec", *[x for kv in files.items() for x in kv],
                             "--no-gensim", "--no-progress", "--min-count", "1", "--widths", "4",
                             "--out", str(tmp / "o")])  # fmt: skip
    assert code == 1 and "not a regular file" in err and flag in err


def test_documented_sizes_still_run(capsys) -> None:
    """The bounds leave normal use alone: depth 3 at width 64 with 2 seeds (docs use width
    1024 and up to 16 seeds), 20 RNN training steps."""
    code, _ = run(capsys, ["mlp", "--depth", "3", "--activation", "x", "--inputs=1,-1",
                           "--targets", "1,1", "--lr", "1/50", "--no-limit", "--width", "64",
                           "--seeds", "2", "--seed", "1000000"])  # fmt: skip
    assert code == 0
    code, _ = run(capsys, [*TRAIN, "--steps", "20"])
    assert code == 0
