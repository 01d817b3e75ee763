"""A live progress line for sweeps, in the style of the other commands' bars: on stderr, silent
for the first second, redrawn at most 10 times a second on terminals (one line per 5 s in a log
file with ``force``), cleared at the end."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _duration(s: float) -> str:
    s = int(round(s))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


class SweepProgress:
    """``progress(done, failed, total, note)`` callback for :func:`tensorprog.sweep.run_sweep`.

    The ETA extrapolates the rate of points finished in this run since the first call (made
    when the executor is up; skipped points and cluster start-up do not count)."""

    def __init__(self, *, force: bool = False, delay: float = 1.0,
                 stream: TextIO | None = None, width: int = 24) -> None:  # fmt: skip
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = force or self.tty
        self.delay, self.width = delay, width
        self.start = time.perf_counter()
        self._last = -1e9
        self._first_done: int | None = None
        self._t_first = self.start
        self._drawn = False
        self._note_shown = False

    def __call__(self, done: int, failed: int, total: int, note: str = "") -> None:
        if self._first_done is None:  # the executor is up: the rate counts from here
            self._first_done = done
            self._t_first = time.perf_counter()
        if not self.enabled:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        gap = 0.1 if self.tty else 5.0
        if done < total and (elapsed < self.delay or now - self._last < gap):
            return
        self._last = now
        if note and not self._note_shown:  # the dashboard link once, on its own line
            self.stream.write(("\r" if self.tty else "") + note + "\n")
            self._note_shown = True
        ran = done - (self._first_done or 0)
        left = total - done
        busy = now - self._t_first
        eta = _duration(busy / ran * left) if ran and left else ("0s" if not left else "?")
        frac = done / total if total else 1.0
        fill = int(frac * self.width)
        bar = "#" * fill + "." * (self.width - fill)
        text = (f"[{bar}] {done}/{total} done, {failed} failed, {left} remaining, "
                f"ETA {eta}, {_duration(elapsed)} elapsed")  # fmt: skip
        self.stream.write(("\r" + text) if self.tty else (text + "\n"))
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn and self.tty:
            self.stream.write("\n")
            self.stream.flush()
