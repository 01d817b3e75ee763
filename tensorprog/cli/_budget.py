"""Budget options shared by the subcommands that derive limits (tensorprog.budget.Budget)."""

from __future__ import annotations

import argparse
from typing import Any

from ._output import positive_int, positive_number


def add_budget_options(p: argparse.ArgumentParser) -> None:
    """``--max-seconds`` etc.: stop with a clear error naming the node instead of hanging."""
    g = p.add_argument_group("budget (a derivation that outgrows it stops with an error)")
    g.add_argument("--max-seconds", type=positive_number, metavar="S", help="wall time")
    g.add_argument("--max-memory-mb", type=positive_number, metavar="MB",
                   help="resident memory (default: 70%% of the machine)")  # fmt: skip
    g.add_argument("--max-digits", type=positive_int, metavar="D",
                   help="digits of any one number")
    g.add_argument("--max-terms", type=positive_int, metavar="T",
                   help="terms of any one polynomial")


def budget_from_args(args: argparse.Namespace) -> dict[str, Any] | None:
    """The budget dict for derive_limit (None: the default budget)."""
    fields = {"seconds": "max_seconds", "memory_mb": "max_memory_mb",
              "max_digits": "max_digits", "max_terms": "max_terms"}  # fmt: skip
    out = {k: getattr(args, a) for k, a in fields.items() if getattr(args, a, None) is not None}
    return out or None
