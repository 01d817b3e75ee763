"""`tensorprog word2vec` end to end on a tiny corpus, and its error messages."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("numba")
pytest.importorskip("gensim")

from tensorprog.cli import main  # noqa: E402

from .test_word2vec_limit import synthetic_corpus  # noqa: E402

QUESTIONS = """: capital-common-countries
w0 w4 w1 w5
w2 w6 w3 w7
w0 w4 w3 w7
: gram1-topic
w8 w12 w9 w13
w10 w14 w11 nosuchword
"""


@pytest.fixture()
def files(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(" ".join(s) for s in synthetic_corpus()) + "\n")
    questions = tmp_path / "q.txt"
    questions.write_text(QUESTIONS)
    return corpus, questions, tmp_path


def test_cli_runs_every_model_and_writes_results(files, capsys) -> None:
    corpus, questions, tmp = files
    out = tmp / "out"
    code = main(["word2vec", "--corpus", str(corpus), "--questions", str(questions),
                 "--preset", "gensim", "--widths", "8,inf", "--epochs", "2", "--out", str(out),
                 "--no-progress", "--json"])  # fmt: skip
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "results.json").read_text())
    assert printed["accuracy"] == saved["accuracy"]
    acc = saved["accuracy"]
    assert set(acc) == {"8", "inf", "gensim_8", "ntk"}
    V = saved["corpus"]["vocab"]
    assert V == 24
    # the NTK/GP limit: frozen orthonormal features, every candidate ties → 1/(V − 3)
    assert acc["ntk"] == pytest.approx(1 / (V - 3), rel=1e-9)
    for key in ("8", "inf", "gensim_8"):
        assert 0.0 <= acc[key] <= 1.0
        m = saved["models"][key]
        assert (m["seen"], m["total"]) == (4, 5)  # one question has an unknown word
        assert (m["semantic_seen"], m["syntactic_seen"]) == (3, 1)
    assert saved["config"]["epochs"] == 2 and saved["config"]["window"] == 5
    assert (out / "word2vec_pca.png").stat().st_size > 1000
    assert "| μP limit | ∞ |" in (out / "table.md").read_text()


def test_cli_pretty_output(files, capsys) -> None:
    corpus, questions, tmp = files
    code = main(["word2vec", "--corpus", str(corpus), "--questions", str(questions),
                 "--widths", "inf", "--epochs", "1", "--out", str(tmp / "o"), "--no-progress",
                 "--no-gensim"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "| model | width |" in out and "1/(V − 3)" in out
    # a second run into the same directory must not replace the results silently
    before = (tmp / "o" / "results.json").read_text()
    argv = ["word2vec", "--corpus", str(corpus), "--questions", str(questions), "--widths",
            "inf", "--epochs", "1", "--out", str(tmp / "o"), "--no-progress", "--no-gensim"]
    assert main(argv) == 1
    assert "already exists" in capsys.readouterr().err
    assert (tmp / "o" / "results.json").read_text() == before
    assert main(argv + ["--force"]) == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--corpus", "{tmp}/missing.txt"], "corpus file not found"),
        (["--corpus", "{tmp}/small.txt"], "distinct words occur at least 5 times"),
        (["--out", "{tmp}/afile"], "is not a directory"),
        (["--out", "{tmp}/missing/o"], "does not exist"),
        (["--widths", "64,abc"], "bad width 'abc'"),
        (["--widths", "0"], "bad width"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--questions", "{tmp}/missing-q.txt"], "questions file not found"),
    ],
)
def test_cli_errors_are_clean(files, capsys, args, message) -> None:
    corpus, questions, tmp = files
    (tmp / "small.txt").write_text("a b c a b c\n")
    (tmp / "afile").write_text("x")
    base = {"--corpus": str(corpus), "--questions": str(questions), "--out": str(tmp / "o2"),
            "--widths": "8"}  # fmt: skip
    given = dict(zip(args[::2], (a.format(tmp=tmp) for a in args[1::2])))
    argv = ["word2vec", "--no-progress", "--no-gensim"]
    for k, v in {**base, **given}.items():
        argv += [k, v]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
