"""The `tensorprog` command line. Each subcommand lives in its own module of this package and
exposes ``register(subparsers)``; ``main`` wires them up."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from ..errors import TensorProgError


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
    """Entry point: returns the process exit code (0 ok, 1 user error, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TensorProgError as e:
        print(e.format(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
