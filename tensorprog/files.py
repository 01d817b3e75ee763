"""Reading and writing users' files without surprises: the guards every command shares.

* :func:`read_text` reads a regular text file of bounded size. Directories, FIFOs (which would
  block forever), devices such as /dev/zero (endless) and sockets are refused before they are
  opened; a file larger than ``max_bytes`` is refused after reading ``max_bytes + 1`` bytes.
* :func:`check_output` says, before any work starts, whether an output path can be written:
  its directory must exist, it must not be a directory or a special file, and an existing file
  is only replaced when the caller says so (``force=True``, the ``--force`` flag).
* :func:`write_text` / :func:`write_bytes` write through a temporary file in the same
  directory and rename it into place, so a failed or interrupted write never leaves half a file
  and never clobbers a user's file unless ``force``.
* :func:`output_dir` checks (and creates, one level at most) a directory for several outputs,
  refusing to replace files in it unless ``force``.

Every refusal is a :class:`tensorprog.errors.TensorProgError` naming the path and the fix.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .errors import TensorProgError

#: Default largest file :func:`read_text` accepts (a .tp program, a config, a data file).
MAX_READ_BYTES = 64 * 2**20

StrPath = str | os.PathLike


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_text(path: StrPath, *, what: str = "file", max_bytes: int = MAX_READ_BYTES,
              encoding: str = "utf-8") -> str:  # fmt: skip
    """The text of the regular file ``path`` (at most ``max_bytes`` bytes)."""
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise TensorProgError(f"cannot read {what} '{p}': no such file",
                              hint="check the path") from None
    except OSError as e:
        raise TensorProgError(f"cannot read {what} '{p}': {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise TensorProgError(f"cannot read {what} '{p}': it is {_kind(st.st_mode)}",
                              hint="give the path of a regular file")
    if st.st_size > max_bytes:
        raise TensorProgError(
            f"cannot read {what} '{p}': {st.st_size:,} bytes is more than {max_bytes:,}",
            hint="is this the right file?")
    try:
        # O_NONBLOCK: should the path become a FIFO after the check, open() must not hang.
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise TensorProgError(f"cannot read {what} '{p}': not a regular file")
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise TensorProgError(f"cannot read {what} '{p}': {e.strerror}") from None
    if len(data) > max_bytes:
        raise TensorProgError(f"cannot read {what} '{p}': more than {max_bytes:,} bytes",
                              hint="is this the right file?")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise TensorProgError(
            f"cannot read {what} '{p}': byte {e.start} (line {line}) is not {encoding} text",
            hint=f"save the file as {encoding} text") from None
    # A byte-order mark, as some editors write at the start of UTF-8 files, is not text.
    return text[1:] if text.startswith("\ufeff") else text


def check_output(path: StrPath, *, force: bool = False, what: str = "output file",
                 flag: str = "--force") -> Path:  # fmt: skip
    """``path`` as a Path if it may be written; a clean error otherwise (see the module doc)."""
    p = Path(os.fspath(path))
    if str(p) == os.devnull:
        return p
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise TensorProgError(
            f"cannot write {what} '{p}': the directory '{parent}' does not exist",
            hint=f"create it first (mkdir -p {parent}) or choose another path")
    try:
        st = os.stat(p)
    except FileNotFoundError:
        if not os.access(parent, os.W_OK):
            raise TensorProgError(f"cannot write {what} '{p}': '{parent}' is not writable"
                                  ) from None
        return p
    except OSError as e:
        raise TensorProgError(f"cannot write {what} '{p}': {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise TensorProgError(f"cannot write {what} '{p}': it is {_kind(st.st_mode)}",
                              hint="choose the path of a regular file")
    if not force:
        raise TensorProgError(f"{what} '{p}' already exists",
                              hint=f"pass {flag} to replace it, or choose another path")
    if not os.access(p, os.W_OK):
        raise TensorProgError(f"cannot write {what} '{p}': permission denied")
    return p


def write_bytes(path: StrPath, data: bytes, *, force: bool = False,
                what: str = "output file", flag: str = "--force") -> Path:  # fmt: skip
    """Write ``data`` to ``path`` atomically (temporary file + rename), after
    :func:`check_output`."""
    p = check_output(path, force=force, what=what, flag=flag)
    if str(p) == os.devnull:
        return p
    parent = p.parent if str(p.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            if not force and p.exists():  # appeared meanwhile: still never clobber
                raise TensorProgError(f"{what} '{p}' already exists",
                                      hint=f"pass {flag} to replace it")
            os.replace(tmp, p)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError as e:
        raise TensorProgError(f"cannot write {what} '{p}': {e.strerror}") from None
    return p


def write_text(path: StrPath, text: str, *, force: bool = False,
               what: str = "output file", flag: str = "--force") -> Path:  # fmt: skip
    """Write ``text`` (UTF-8) to ``path``; see :func:`write_bytes`."""
    return write_bytes(path, text.encode("utf-8"), force=force, what=what, flag=flag)


def output_dir(path: StrPath, names: Iterable[str] = (), *, force: bool = False,
               what: str = "output directory", flag: str = "--force") -> Path:  # fmt: skip
    """A directory to write the files ``names`` into: created if only its last component is
    missing; refused if it is a file, if its parent is missing, or if one of ``names`` exists
    there and ``force`` is False."""
    p = Path(os.fspath(path))
    if p.exists() and not p.is_dir():
        raise TensorProgError(f"{what} '{p}' is not a directory",
                              hint="choose a directory (it is created if missing)")
    if not p.exists():
        parent = p.parent if str(p.parent) else Path(".")
        if not parent.is_dir():
            raise TensorProgError(
                f"cannot create {what} '{p}': '{parent}' does not exist",
                hint=f"create it first (mkdir -p {p}) or choose another path")
        try:
            p.mkdir()
        except OSError as e:
            raise TensorProgError(f"cannot create {what} '{p}': {e.strerror}") from None
    for name in names:
        check_output(p / name, force=force, what="output file", flag=flag)
    return p
