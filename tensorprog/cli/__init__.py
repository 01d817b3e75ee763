"""The `tensorprog` command line. Each subcommand lives in its own module of this package and
exposes ``register(subparsers)``; ``main`` wires them up."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from ..budget import deadline
from ..errors import BudgetExceeded, NonPolynomialError, TensorProgError

_BUDGET_FLAGS = {"seconds": "--max-seconds", "memory_mb": "--max-memory-mb",
                 "max_digits": "--max-digits", "max_terms": "--max-terms",
                 "max_degree": "--max-degree"}  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tensorprog",
        description="Infinite-width limits of Tensor Programs (Yang & Hu, TP4): derive exact "
        "limits, simulate finite widths, build MLP+SGD programs, classify parametrizations.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the process exit code (0 ok, 1 user error, 2 usage error,
    130 interrupted by Ctrl-C, 141 output pipe closed early, as with ``| head``)."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        try:
            # --max-seconds bounds the whole command (building programs included), not only
            # the derivation inside it.
            with deadline(getattr(args, "max_seconds", None)):
                return int(args.func(args) or 0)
        except NonPolynomialError as e:
            if getattr(args, "mode", None) in ("exact", "float"):
                e.hint = "run with --mode numeric (numeric expectations with error bars) or " \
                    "--mode auto (exact where possible)"
            print(e.format(), file=sys.stderr)
            return 1
        except TensorProgError as e:
            field = getattr(e, "field", None)
            if isinstance(e, BudgetExceeded) and field in _BUDGET_FLAGS:
                e.hint = f"raise {_BUDGET_FLAGS[field]}" + (
                    " or use --mode float (float64 coefficients: cost set by the number of "
                    "terms, not digits)" if hasattr(args, "mode") else "")
            print(e.format(), file=sys.stderr)
            return 1
        finally:
            sys.stdout.flush()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        # A size no estimate caught (the estimates refuse most before they start).
        print("error: out of memory\n  hint: use a smaller width, fewer seeds or steps, or a "
              "smaller --max-memory-mb budget where the command has one", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (``tensorprog ... | head``): stop quietly, as Unix tools do.
        # Point stdout at /dev/null so the interpreter's final flush cannot fail again.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):  # pragma: no cover - stdout without a descriptor
            pass
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
