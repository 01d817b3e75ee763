"""Resource budgets for limit derivations: stop cleanly instead of swapping or hanging.

Exact limits grow fast (the digits of the depth-1 μP network grow ~5× per SGD step, and
f₈ of it would hold ~10 GB of coefficients), so every derivation runs under a :class:`Budget`:

* ``max_terms``   -- terms of any one polynomial (a Z, a Moment integrand, a product);
* ``max_digits``  -- decimal digits of any one coefficient or scalar (numerator + denominator);
* ``max_degree``  -- total degree of any polynomial (checked up front from the degree plan);
* ``seconds``     -- wall time, checked between nodes and before big products;
* ``memory_mb``   -- resident memory: checked between nodes, and every big product is refused
  *before* it starts when its estimated size would not fit.

Exceeding any of them raises :class:`tensorprog.errors.BudgetExceeded` naming the node and the
fix (raise that limit, or use ``mode="float"``). The default budget only guards memory (70% of
the machine, and no more than is available when the derivation starts) and absurd sizes.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

from .backends.base import dfact_bits
from .errors import BudgetExceeded, TensorProgError

_MB = 1 << 20


def physical_memory_mb() -> float | None:
    """Total physical memory of this machine in MB (None if unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / _MB
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return None


def available_memory_mb() -> float | None:
    """MemAvailable from /proc/meminfo (None if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - non-Linux
        pass
    return None


def rss_mb() -> float:
    """Current resident set size of this process in MB."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / _MB
    except (OSError, ValueError, IndexError):  # pragma: no cover - non-Linux
        import resource  # local: Unix only (this is the fallback path)

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def default_memory_mb() -> float:
    """70% of physical memory, capped by what is available now (plus what we already use)."""
    total = physical_memory_mb() or 8192.0
    limit = 0.7 * total
    avail = available_memory_mb()
    if avail is not None:
        limit = min(limit, 0.9 * avail + rss_mb())
    return max(limit, 256.0)


@dataclass(frozen=True)
class Budget:
    """Limits for one derivation (see the module docstring); ``None`` means unlimited.

    ``memory_mb="default"`` (the default) resolves to :func:`default_memory_mb` when the
    derivation starts.
    """

    max_terms: int | None = 50_000_000
    max_digits: int | None = 50_000_000
    max_degree: int | None = None
    seconds: float | None = None
    memory_mb: float | str | None = "default"

    @classmethod
    def unlimited(cls) -> Budget:
        return cls(None, None, None, None, None)

    def resolved(self) -> Budget:
        if self.memory_mb == "default":
            return Budget(self.max_terms, self.max_digits, self.max_degree, self.seconds,
                          default_memory_mb())
        return self


def as_budget(budget: Budget | dict[str, Any] | None) -> Budget:
    """A Budget from None (the default budget), a dict of its fields, or a Budget."""
    if budget is None:
        return Budget()
    if isinstance(budget, Budget):
        return budget
    if isinstance(budget, dict):
        names = {f.name for f in fields(Budget)}
        unknown = sorted(set(budget) - names)
        if unknown:
            raise TensorProgError(
                f"unknown budget field(s) {unknown}", hint=f"use some of {sorted(names)}"
            )
        for k, v in budget.items():
            if v is not None and not (k == "memory_mb" and v == "default"):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 \
                        or not math.isfinite(v):
                    raise TensorProgError(
                        f"budget {k} must be a positive finite number or None, not {v!r}",
                        hint="None (or leaving the field out) means no limit")
        return Budget(**budget)
    raise TensorProgError(
        f"budget must be a Budget, a dict or None, not {type(budget).__name__}",
        hint="e.g. budget=Budget(max_digits=10**6) or budget={'seconds': 60}",
    )


_FIX = "raise it (derive_limit(..., budget=Budget({field}=...)); None = unlimited) or use " \
       "mode='float' (float64 coefficients: cost set by the number of terms, not digits)"


class Meter:
    """Checks a running derivation against its budget; ``node`` is the node being computed."""

    def __init__(self, budget: Budget, program: Any = None) -> None:
        self.budget = budget.resolved()
        self.program = program
        self.start = time.perf_counter()
        self.node = ""
        self.peak = {"terms": 0, "digits": 0, "degree": 0}
        self.peak_node = {"terms": "", "digits": "", "degree": ""}
        self._last_memory_check = -1.0

    # ------------------------------------------------------------------ reporting
    def _fail(self, what: str, field: str) -> None:
        loc = None
        if self.program is not None and self.node and self.node in self.program:
            loc = getattr(self.program.node(self.node), "loc", None)
        e = BudgetExceeded(
            f"'{self.node}' {what}", loc=loc, node=self.node or None,
            hint=_FIX.format(field=field),
        )
        e.field = field  # the command line names its own flag for it
        raise e

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    # ------------------------------------------------------------------ checks
    def check_size(self, terms: int, digits: int, degree: int, what: str = "a polynomial") -> None:
        """Record and check the size of something just computed at the current node."""
        for key, val in (("terms", terms), ("digits", digits), ("degree", degree)):
            if val > self.peak[key]:
                self.peak[key], self.peak_node[key] = val, self.node
        b = self.budget
        if b.max_terms is not None and terms > b.max_terms:
            self._fail(f"has {what} with {terms:,} terms (budget max_terms={b.max_terms:,})",
                       "max_terms")
        if b.max_digits is not None and digits > b.max_digits:
            self._fail(f"has {what} with {digits:,}-digit numbers (budget "
                       f"max_digits={b.max_digits:,})", "max_digits")
        if b.max_degree is not None and degree > b.max_degree:
            self._fail(f"has {what} of degree {degree} (budget max_degree={b.max_degree})",
                       "max_degree")

    def check_degree_plan(self, degrees: dict[str, int]) -> None:
        """Refuse up front, at the first node whose polynomials exceed max_degree."""
        b = self.budget
        if b.max_degree is None:
            return
        for node, degree in degrees.items():
            if degree > b.max_degree:
                self.node = node
                self._fail(f"would form a polynomial of degree {degree} (budget max_degree="
                           f"{b.max_degree})", "max_degree")

    def check_moment_digits(self, degrees: dict[str, int]) -> None:
        """Refuse up front, at the first node whose polynomials reach a degree d whose Gaussian
        moment weight (d−1)!! alone exceeds max_digits (exact mode)."""
        b = self.budget
        if b.max_digits is None:
            return
        for node, degree in degrees.items():
            d = degree - degree % 2
            if d > 2048:
                digits = int(dfact_bits(d) * 0.30103) + 1
                if digits > b.max_digits:
                    self.node = node
                    self._fail(f"would form Gaussian moments of degree {d} ({digits:,}-digit "
                               f"numbers; budget max_digits={b.max_digits:,})", "max_digits")

    def check_time(self) -> None:
        b = self.budget
        if b.seconds is not None and time.perf_counter() - self.start > b.seconds:
            self._fail(f"was reached after {self.elapsed():.1f} s of derivation (budget "
                       f"seconds={b.seconds})", "seconds")

    def check_memory(self, extra_mb: float = 0.0, what: str = "") -> None:
        b = self.budget
        if b.memory_mb is None:
            return
        if not extra_mb:
            # Between nodes: reading /proc costs ~10 µs, so look at most every 20 ms.
            t = time.perf_counter()
            if t - self._last_memory_check < 0.02:
                return
            self._last_memory_check = t
        now = rss_mb()
        if now + extra_mb > b.memory_mb:
            need = f"would need ~{extra_mb:,.0f} MB for {what}, on top of the {now:,.0f} MB " \
                "in use" if extra_mb else f"uses {now:,.0f} MB"
            self._fail(f"{need} (budget memory_mb={b.memory_mb:,.0f})", "memory_mb")

    def check_product(self, terms: int, bits: int, dense_slots: int = 0,
                      number_bits: int = 0) -> None:
        """Pre-flight check of a product estimated to have ``terms`` terms of ``bits`` bits
        (``dense_slots``: length of the packed dense intermediate, 0 if sparse;
        ``number_bits``: the size of one exact number about to be formed, checked against
        max_digits before it exists)."""
        if number_bits:
            b = self.budget
            digits = int(number_bits * 0.30103) + 1
            if b.max_digits is not None and digits > b.max_digits:
                self._fail(f"would form a {digits:,}-digit number (budget max_digits="
                           f"{b.max_digits:,})", "max_digits")
        # Sizes estimated here are upper bounds, so only memory and time are judged before the
        # product; terms and digits are checked on actual results (check_size).
        self.check_time()
        # Result coefficients plus, for Kronecker products, the packed operands and FFT scratch
        # (measured: about four times the packed result).
        result = terms * (bits / 8 + 32)
        packed = 4 * dense_slots * (bits / 8 + 8)
        extra = (result + packed) / _MB
        if extra > 64:
            self.check_memory(extra, "its next product")


#: The wall-clock alarm fires this long after the budget, so that the meter's own checks
#: (which name the node) normally win; the alarm only cuts a single long operation short.
ALARM_SLACK = 0.25


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Enforce ``seconds`` of wall time on the enclosed work with SIGALRM: the handler raises
    BudgetExceeded between two Python bytecodes, so long pure-Python work (sympy, the
    expand/plain backends, numeric passes) stops promptly; a single C call (one FLINT product)
    finishes first, and those are size-checked before they start. A no-op outside the main
    thread, without setitimer, or when an outer timer is already running."""
    if (seconds is None or not hasattr(signal, "setitimer")
            or threading.current_thread() is not threading.main_thread()
            or signal.getitimer(signal.ITIMER_REAL)[0] > 0):  # fmt: skip
        yield
        return
    start = time.perf_counter()

    def stop(signum: int, frame: Any) -> None:
        e = BudgetExceeded(
            f"the derivation was stopped after {time.perf_counter() - start:.1f} s "
            f"(budget seconds={seconds})", hint=_FIX.format(field="seconds"))
        e.field = "seconds"
        raise e

    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds + ALARM_SLACK)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
