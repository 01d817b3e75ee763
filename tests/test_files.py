"""The shared file guards (tensorprog.files) and the commands that use them: special files,
missing directories and existing files give clean errors; nothing is overwritten silently."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tensorprog.cli import main
from tensorprog.errors import TensorProgError
from tensorprog.files import check_output, output_dir, read_text, write_text

PROGRAM = "vector x ~ N(0, 1)\nm = mean(x^2)\noutput m\n"


def _special_inputs(tmp_path: Path) -> list[tuple[str, str]]:
    fifo = tmp_path / "pipe.tp"
    os.mkfifo(fifo)
    cases = [(str(fifo), "FIFO"), (str(tmp_path), "directory"),
             (str(tmp_path / "missing.tp"), "no such file")]
    if os.path.exists("/dev/zero"):
        cases.append(("/dev/zero", "device"))
    return cases


def test_read_text_refuses_special_files(tmp_path):
    for path, why in _special_inputs(tmp_path):
        with pytest.raises(TensorProgError, match=why):
            read_text(path)  # returns at once: a FIFO is never opened, /dev/zero never read


def test_read_text_limits_size_and_encoding(tmp_path):
    big = tmp_path / "big.tp"
    big.write_bytes(b"#" * 1001)
    with pytest.raises(TensorProgError, match="more than 1,000"):
        read_text(big, max_bytes=1000)
    bad = tmp_path / "latin1.tp"
    bad.write_bytes(b"# caf\xe9\n")
    with pytest.raises(TensorProgError, match="line 1.*utf-8"):
        read_text(bad)


def test_commands_refuse_special_program_files(tmp_path, capsys):
    for path, why in _special_inputs(tmp_path):
        for cmd in ("derive", "check"):
            assert main([cmd, path]) == 1
            assert why in capsys.readouterr().err


def test_outputs_are_never_overwritten_silently(tmp_path):
    target = tmp_path / "out.json"
    assert write_text(target, "1") == target and target.read_text() == "1"
    with pytest.raises(TensorProgError, match="already exists.*\n.*--force"):
        write_text(target, "2")
    assert target.read_text() == "1"
    write_text(target, "2", force=True)
    assert target.read_text() == "2"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary left behind
    with pytest.raises(TensorProgError, match="does not exist"):
        check_output(tmp_path / "no" / "such" / "dir.json")
    with pytest.raises(TensorProgError, match="directory"):
        check_output(tmp_path, force=True)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(TensorProgError, match="FIFO"):
        check_output(fifo, force=True)


def test_output_dir(tmp_path):
    d = output_dir(tmp_path / "new", ["a.png"])
    assert d.is_dir()
    (d / "a.png").write_text("x")
    with pytest.raises(TensorProgError, match="already exists"):
        output_dir(d, ["a.png"])
    assert output_dir(d, ["a.png"], force=True) == d
    with pytest.raises(TensorProgError, match="does not exist"):
        output_dir(tmp_path / "a" / "b" / "c")
    with pytest.raises(TensorProgError, match="not a directory"):
        output_dir(d / "a.png")


def test_figure4_refuses_before_computing(tmp_path, capsys):
    (tmp_path / "figure4.json").write_text("{}")
    assert main(["figure4", "--out", str(tmp_path), "--quiet"]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["figure4", "--out", str(tmp_path / "x" / "y"), "--quiet"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_broken_pipe_is_quiet(tmp_path):
    """`tensorprog ... --json | head -1`: the reader closes the pipe early; no traceback."""
    prog = tmp_path / "many.tp"
    prog.write_text("vector x ~ N(0, 1)\n" + "".join(f"m{i} = mean(x^2)\n" for i in range(3000))
                    + "output " + ", ".join(f"m{i}" for i in range(3000)) + "\n")
    proc = subprocess.Popen([sys.executable, "-m", "tensorprog", "derive", str(prog), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # like head: stop reading
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode in (0, 141)


def test_a_byte_order_mark_and_crlf_line_ends_are_read_as_text(tmp_path):
    """Editors on Windows save UTF-8 with a byte-order mark and CRLF line ends: the program
    is the same program (same limit, errors on the same line and column)."""
    from tensorprog import derive_limit
    from tensorprog.lang import load

    plain, windows = tmp_path / "plain.tp", tmp_path / "windows.tp"
    plain.write_text(PROGRAM)
    windows.write_bytes(b"\xef\xbb\xbf" + PROGRAM.replace("\n", "\r\n").encode())
    assert read_text(windows) == PROGRAM.replace("\n", "\r\n")
    assert derive_limit(load(windows))["m"] == derive_limit(load(plain))["m"] == 1
    bad = tmp_path / "bad.tp"
    bad.write_bytes(b"\xef\xbb\xbfvector x ~ N(0, 1)\r\nm = mean(x^2 +)\r\n")
    with pytest.raises(TensorProgError, match=r"bad\.tp:2:"):
        load(bad)
