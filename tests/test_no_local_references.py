"""Code, docs and CLI help speak to a package user: no local paths (the project's paper copies,
its design notes), no local paper numbers, no issue numbers. Papers are cited by authors, short
title and arXiv id (docs/references.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tensorprog.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("tensorprog", "docs", "programs", "benchmarks", "tests", "README.md")
# This file spells out the forbidden patterns (PATTERN and the examples of test_the_pattern_*),
# so it would flag itself: it is the one file left out of the scan.
EXCLUDED = {Path(__file__).resolve()}
TEXT = {".py", ".md", ".tp", ".txt", ".toml", ".cfg", ".json", ".rst"}
PATTERN = re.compile(
    r"shared/|design\.md|papers/"  # local paths
    r"|\bshared (?:text|copy)\b"  # the local paper copies by another name
    r"|\b[Ii]ssues? #?\d+"  # issue numbers
    r"|(?<![\w.])00[12]\b"  # the local paper numbers ("001 Table 2")
    r"|(?<=[A-Za-z]_)00[12](?=_|\b)"  # ... inside names (test_match_001_table2)
)

# (file, line) pairs allowed to match, each a use of the words that is not a citation.
ALLOWED: set[tuple[str, str]] = set()


def _files() -> list[Path]:
    out = []
    for top in SCANNED:
        base = ROOT / top
        candidates = [base] if base.is_file() else sorted(base.rglob("*"))
        for p in candidates:
            if (p.is_file() and p.suffix in TEXT and "__pycache__" not in p.parts
                    and p.resolve() not in EXCLUDED):
                out.append(p)
    return out


def test_files_cite_papers_not_local_paths():
    bad = []
    for p in _files():
        rel = p.relative_to(ROOT).as_posix()
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if PATTERN.search(line) and (rel, line) not in ALLOWED:
                bad.append(f"{rel}:{i}: {line.strip()}")
    assert not bad, "local references (cite papers as in docs/references.md):\n" + "\n".join(bad)


def _helps() -> dict[str, str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    out = {"tensorprog": parser.format_help()}
    out.update({f"tensorprog {name}": p.format_help() for name, p in sub.choices.items()})
    return out


def test_cli_help_cites_papers_not_local_paths():
    bad = []
    for cmd, text in _helps().items():
        # argparse wraps help text: compare on single spaces
        flat = " ".join(text.split())
        for m in PATTERN.finditer(flat):
            around = flat[max(0, m.start() - 80): m.end() + 80]
            if not any(a in flat and flat.find(a) <= m.start() < flat.find(a) + len(a)
                       for f, a in ALLOWED if f == "<help>"):
                bad.append(f"{cmd}: ...{around}...")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("text", ["see shared/papers/001", "design.md §3", "(issue 7)",
                                  "001 Table 2", "Issue #12", "not in the shared text",
                                  "the shared copy of TP4"])
def test_the_pattern_catches(text):
    assert PATTERN.search(text)


@pytest.mark.parametrize("text", ["lr 0.001", "TP4 (Yang & Hu, arXiv:2011.14522) Eq. 24",
                                  "width 1001", "seed 2002", "shared memory",
                                  "a shared texture"])
def test_the_pattern_spares(text):
    assert not PATTERN.search(text)
