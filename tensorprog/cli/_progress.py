"""A progress bar on stderr for long derivations: silent for the first second, so quick
commands print nothing extra; redrawn at most 10 times a second; cleared when done."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """A ``progress(done, total, node)`` callback for :func:`tensorprog.derive_limit`.

    ``force``: draw even when stderr is not a terminal (one line per second there, since a
    log file cannot redraw); otherwise only terminals get the bar.
    """

    def __init__(self, *, force: bool = False, delay: float = 1.0,
                 stream: TextIO | None = None, width: int = 30) -> None:  # fmt: skip
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = force or self.tty
        self.delay = delay
        self.width = width
        self.start = time.perf_counter()
        self._last = -1.0
        self._drawn = False

    def __call__(self, done: int, total: int, node: str) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        if elapsed < self.delay or (done < total and now - self._last < (0.1 if self.tty else 1)):
            return
        self._last = now
        frac = done / total if total else 1.0
        fill = int(frac * self.width)
        bar = "#" * fill + "." * (self.width - fill)
        text = f"[{bar}] {done}/{total} {node[:30]:<30} {elapsed:6.1f} s"
        if self.tty:
            self.stream.write("\r" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Clear the bar (terminals) so the results start on a clean line."""
        if self._drawn and self.tty:
            self.stream.write("\r" + " " * (self.width + 50) + "\r")
            self.stream.flush()


def add_progress_options(p) -> None:
    """``--progress`` / ``--no-progress`` on a subcommand's parser."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--progress", action="store_true",
                   help="always show the progress bar (default: on terminals, after 1 s)")
    g.add_argument("--no-progress", action="store_true", help="never show the progress bar")


def progress_from_args(args) -> ProgressBar | None:
    if getattr(args, "no_progress", False):
        return None
    bar = ProgressBar(force=getattr(args, "progress", False))
    return bar if bar.enabled else None
