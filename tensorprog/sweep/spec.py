"""Sweep specifications: a TOML file naming one or more grids of MLP limit / finite-width points.

::

    [sweep]                      # or several [[sweep]] tables: the union of their grids
    name = "demo"
    builder = "mlp"
    depth = [1, 2]
    activation = ["x", "x^2"]
    lr = ["1/100", "1/50"]       # or { log2 = [-8, 0], num = 9 }
    inputs = "1,-1,1"
    targets = "1,1,-1"
    width = ["limit", 256]       # "limit" = derive_limit; a number = train_mlp at that width
    seeds = 2                    # seeds 0..seeds-1 per finite width

Every grid key takes a value or a list of values; the grid is the product of the lists. Errors
name ``file:line:col``: TOML's own syntax errors carry a place, and for semantic errors the key is
located by scanning the text (tomllib keeps no positions).

Sizes are bounded before anything is expanded (see the ``MAX_*`` constants and docs/sweep.md):
a spec's point count is computed from its axis lengths and refused above :data:`MAX_POINTS`,
so a typo like ``seeds = 1000000000`` is an error naming the key, not an out-of-memory kill.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import re
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from importlib.metadata import version
from pathlib import Path
from typing import Any

from ..backends.domains import int_text
from ..builders.mlp import read_activation
from ..errors import SourceLoc, TensorProgError
from ..files import read_text
from ..parametrization import PRESETS
from .data import load_data

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None

MODES = ("auto", "exact", "float", "numeric")
LOSSES = ("mse", "logistic")
BUDGET_FIELDS = ("seconds", "memory_mb", "max_digits", "max_terms", "max_degree")
DATA_SOURCES = ("diabetes", "digits")
DATA_FIELDS = ("source", "dims", "examples", "seed", "digits")

#: grid keys (a value or a list) and their defaults; None = required.
GRID_KEYS: dict[str, Any] = {
    "builder": "mlp",
    "depth": None,
    "activation": None,
    "lr": None,
    "inputs": "",
    "targets": "",
    "data": "",
    "eval_inputs": "",
    "width": "limit",
    "mode": "auto",
    "budget": "",
    "parametrization": "mup",
    "steps": 0,
    "batch_size": 1,
    "loss": "mse",
    "sleep": 0,
}
#: keys that take one value, not a grid axis.
SCALAR_KEYS = {"name": "", "seeds": 1, "first_seed": 0}

#: most points one spec may hold (all tables, every seed); each point is a dict of its
#: parameters kept in memory, hashed and stored: 10^6 points take ~30 s and ~0.9 GB to expand.
MAX_POINTS = 10**6
#: largest |log2 η| of a learning rate (2^1000 has 302 digits; beyond that no run is meaningful).
MAX_LOG2_LR = 1000
#: most SGD steps, examples per batch, and examples (steps × batch) one point trains on.
MAX_STEPS = 10**5
MAX_BATCH_SIZE = 10**4
MAX_POINT_EXAMPLES = 10**5
#: most examples all points of a spec hold together (each point stores its cycled examples).
MAX_SPEC_EXAMPLES = 10**7
#: most weights (float64) of one finite-width network: (depth - 1)·width² + width·(dims + 2);
#: 2^29 is 4 GiB (a width-4096 depth-2 run measured 145 MB for its 128 MB of weights), so a
#: typo like width = 10^6 is an error, not a worker killed for memory.
MAX_WEIGHTS = 2**29
#: deepest MLP (its limit's program grows with depth × steps).
MAX_DEPTH = 1000
#: most digits of a number written in a spec, and largest |exponent| of a decimal like 1e-30.
MAX_NUMBER_DIGITS = 1000
MAX_DECIMAL_EXPONENT = 1000
#: most decimals of the data examples (float64 holds about 17 significant digits).
MAX_DATA_DIGITS = 17
#: deepest nesting of TOML arrays / tables that a spec may use.
MAX_NESTING = 100

_NUMBER = re.compile(r"\s*[-+]?(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?\s*")


class SpecError(TensorProgError):
    """A sweep specification that cannot be run."""

    kind = "spec error"


@dataclass(frozen=True)
class Point:
    """One grid point: plain JSON data (``params``), its content hash and its grid position."""

    params: dict[str, Any]
    hash: str
    index: int

    @property
    def label(self) -> str:
        p = self.params
        w = p["width"] if p["width"] == "limit" else f"n={p['width']} seed={p['seed']}"
        return f"{p['parametrization']} φ={p['activation']} L={p['depth']} η={p['lr']} {w}"


@dataclass
class SweepSpec:
    """A loaded sweep: its name, source text and the expanded points (deduplicated by hash)."""

    name: str
    source: str
    text: str
    points: list[Point] = field(default_factory=list)
    version: str = ""


def package_version() -> str:
    """The installed tensorprog version (part of every point's hash)."""
    try:
        return version("tensorprog")
    except Exception:  # noqa: BLE001 - not installed: the module's own version
        import tensorprog  # local: the root package imports this module

        return str(getattr(tensorprog, "__version__", "0+unknown"))


def point_hash(params: dict[str, Any], version: str) -> str:
    """sha256 of the canonical JSON of a point's parameters and the package version."""
    blob = json.dumps({"point": params, "version": version}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=True)  # fmt: skip
    return hashlib.sha256(blob.encode()).hexdigest()


# --------------------------------------------------------------------------- locating keys
class _Locator:
    """Finds ``key = ...`` lines in TOML text, per table (tomllib gives no positions)."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\" -]+?)\s*\]\]?\s*(#.*)?$")

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.lines = text.splitlines()
        # sections: (table path, occurrence index, first line, last line) in file order
        self.sections: list[tuple[str, int, int, int]] = []
        count: dict[str, int] = {}
        cur, start = "", 0
        for i, line in enumerate(self.lines):
            m = self._HEADER.match(line)
            if m:
                self._close(cur, count, start, i - 1)
                cur, start = m.group(2).replace('"', "").replace(" ", ""), i
        self._close(cur, count, start, len(self.lines) - 1)

    def _close(self, path: str, count: dict[str, int], a: int, b: int) -> None:
        k = count.get(path, 0) if path else 0
        self.sections.append((path, k, a, b))
        if path:
            count[path] = k + 1

    def loc(self, table: str, occurrence: int, key: str | None = None,
            needle: str | None = None) -> SourceLoc:  # fmt: skip
        """The place of ``key`` (or the table header) in the occurrence-th ``table`` section;
        ``needle``: a piece of the value to point at within that line."""
        for path, k, a, b in self.sections:
            if path != table or k != occurrence:
                continue
            if key is not None:
                pat = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
                for i in range(a, b + 1):
                    if pat.match(self.lines[i]):
                        line = self.lines[i]
                        col = line.index(key) + 1
                        if needle:
                            j = line.find(needle, line.index("=") + 1)
                            col = j + 1 if j >= 0 else col
                        return SourceLoc(self.file, i + 1, col, line)
                # a key of a sub-table written as [table.key]
                for path2, k2, a2, _ in self.sections:
                    if path2 == f"{table}.{key}" and k2 == occurrence:
                        return SourceLoc(self.file, a2 + 1, 1, self.lines[a2])
            line = self.lines[a] if self.lines else ""
            return SourceLoc(self.file, a + 1, 1, line)
        return SourceLoc(self.file, 1, 1, self.lines[0] if self.lines else "")


# --------------------------------------------------------------------------- reading values
class _Reader:
    def __init__(self, loc: _Locator, table: str, occurrence: int) -> None:
        self.locator, self.table, self.occ = loc, table, occurrence

    def fail(self, key: str | None, message: str, hint: str | None = None,
             needle: Any = None) -> SpecError:  # fmt: skip
        needle = None if needle is None else str(needle)
        return SpecError(message, loc=self.locator.loc(self.table, self.occ, key, needle),
                         hint=hint)  # fmt: skip

    def as_list(self, key: str, value: Any) -> list[Any]:
        if isinstance(value, list) and key not in ("inputs", "targets", "eval_inputs"):
            if not value:
                raise self.fail(key, f"'{key}' is an empty list: the grid would be empty",
                                hint="give at least one value")  # fmt: skip
            return value
        if isinstance(value, list):  # inputs etc.: a list means several data sets
            if not value:
                raise self.fail(key, f"'{key}' is an empty list", hint="give at least one value")
            if not all(isinstance(v, str) for v in value):
                raise self.fail(key, f"'{key}' must be text like \"1,-1,1\" or a list of such "
                                "texts (one grid value each)")  # fmt: skip
            return value
        return [value]

    def integer(self, key: str, v: Any, low: int, high: int | None = None,
                why: str = "") -> int:  # fmt: skip
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(key, f"'{key}' must be an integer, got {v!r}", needle=v)
        if v < low:
            raise self.fail(key, f"'{key}' must be >= {low}, got {v}", needle=v)
        if high is not None and v > high:
            raise self.fail(key, f"'{key}' = {v} is more than {high}, the most a sweep spec "
                            f"allows{why}", hint=f"give {key} <= {high}", needle=v)
        return v

    def choice(self, key: str, v: Any, options: tuple[str, ...]) -> str:
        if v not in options:
            raise self.fail(key, f"'{key}' must be one of {', '.join(options)}, got {v!r}",
                            needle=v)  # fmt: skip
        return v

    def number_text(self, key: str, v: Any) -> str:
        """Exact text of a number given as TOML int / text ('1/100', '0.02'); floats refused
        (they are binary approximations: write them as text)."""
        if isinstance(v, bool):
            raise self.fail(key, f"'{key}': {v!r} is not a number", needle=v)
        if isinstance(v, int):
            return str(v)
        if isinstance(v, float):
            raise self.fail(key, f"'{key}': the float {v!r} would be inexact",
                            hint=f'write it as text, e.g. "{v!r}", or as a fraction "1/50"',
                            needle=v)  # fmt: skip
        if not isinstance(v, str):
            raise self.fail(key, f"'{key}': expected a number, got {v!r}")
        self.check_size(key, v)
        try:
            q = Fraction(v.strip())
        except (ValueError, ZeroDivisionError):
            raise self.fail(key, f"'{key}': cannot read {v!r} as a number",
                            hint="write an integer, a fraction like 1/50 or a decimal like 0.02",
                            needle=v) from None  # fmt: skip
        return _fraction_text(q)

    def check_size(self, key: str, v: str) -> None:
        """Refuse number texts whose exact value would be huge before building it
        (``Fraction("1e999999999")`` computes 10^999999999)."""
        for part in v.split("/", 1):
            m = _NUMBER.fullmatch(part)
            if m is None:
                continue  # not a decimal: Fraction() reports it
            digits = len(m.group(1)) + len(m.group(2) or "")
            exp = m.group(3)
            if digits > MAX_NUMBER_DIGITS or (exp is not None and (
                    len(exp.lstrip("+-0")) > 6 or abs(int(exp)) > MAX_DECIMAL_EXPONENT)):
                shown = v if len(v) <= 40 else v[:37] + "..."
                raise self.fail(key, f"'{key}': the number {shown!r} is too large to use: at "
                                f"most {MAX_NUMBER_DIGITS} digits and a decimal exponent within "
                                f"±{MAX_DECIMAL_EXPONENT}",
                                hint="write a smaller number (e.g. 1e-30 or 1/1024)",
                                needle=v[:40])  # fmt: skip


def _fraction_text(q: Fraction) -> str:
    # int_text: exact text at any size (CPython's str(int) stops at 4300 digits)
    n = int_text(q.numerator)
    return n if q.denominator == 1 else f"{n}/{int_text(q.denominator)}"


def _examples_text(r: _Reader, key: str, text: str) -> list[list[str]]:
    """'1,-1,2' -> [[1],[-1],[2]]; '1 0; 0 1' -> [[1,0],[0,1]] (number texts, exact)."""
    rows = [s for s in text.split(";")] if ";" in text else [[s] for s in text.replace(",", " ")
                                                              .split()]  # fmt: skip
    out: list[list[str]] = []
    for row in rows:
        items = row if isinstance(row, list) else row.replace(",", " ").split()
        if not items:
            continue
        out.append([r.number_text(key, s) for s in items])
    if not out:
        raise r.fail(key, f"'{key}' is empty")
    if len({len(x) for x in out}) != 1:
        raise r.fail(key, f"the examples in '{key}' have different dimensions")
    return out


def _lr_values(r: _Reader, v: Any) -> list[tuple[str, float]]:
    """(exact text, log2 η) pairs."""
    if isinstance(v, dict):
        unknown = sorted(set(v) - {"log2", "num"})
        if unknown:
            raise r.fail("lr", f"unknown field(s) {unknown} in the lr range",
                         hint="write lr = { log2 = [-8, 0], num = 9 }")  # fmt: skip
        lo_hi, num = v.get("log2"), v.get("num")
        if (not isinstance(lo_hi, list) or len(lo_hi) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in lo_hi)):
            raise r.fail("lr", "lr.log2 must be two integers [low, high]",
                         hint="e.g. lr = { log2 = [-8, 0], num = 9 }")  # fmt: skip
        lo, hi = lo_hi
        if max(abs(lo), abs(hi)) > MAX_LOG2_LR:
            raise r.fail("lr", f"lr.log2 = [{lo}, {hi}] is out of range: |log2 η| must be at "
                         f"most {MAX_LOG2_LR}",
                         hint="learning rates between 2^-1000 and 2^1000 cover every useful "
                         "run; e.g. lr = { log2 = [-12, 2], num = 15 }",
                         needle=lo if abs(lo) > MAX_LOG2_LR else hi)  # fmt: skip
        num = r.integer("lr", num, 1) if num is not None else hi - lo + 1
        if num > MAX_POINTS:
            raise r.fail("lr", f"lr.num = {num} learning rates is more than a spec may hold "
                         f"({MAX_POINTS} points)",
                         hint="sweep a few dozen learning rates, e.g. num = 15", needle=num)
        if num == 1:
            exps = [Fraction(lo)]
        else:
            if hi < lo:
                raise r.fail("lr", "lr.log2 = [low, high] needs low <= high")
            exps = [Fraction(lo) + Fraction(hi - lo) * k / (num - 1) for k in range(num)]
        out = []
        for e in exps:
            if e.denominator == 1:  # 2^e exactly
                q = Fraction(2) ** int(e)
                out.append((_fraction_text(q), float(e)))
            else:  # an irrational power of two: its shortest float text, read exactly later
                out.append((repr(2.0 ** float(e)), float(e)))
        return out
    text = r.number_text("lr", v)
    q = Fraction(text)
    if q < 0:
        raise r.fail("lr", f"the learning rate must be >= 0, got {text}", needle=v)
    if q == 0:
        return [(text, float("-inf"))]
    # log2 of the numerator and denominator separately: exact ints of any size, no overflow
    log2 = math.log2(q.numerator) - math.log2(q.denominator)
    if abs(log2) > MAX_LOG2_LR:
        raise r.fail("lr", f"the learning rate {v!r} is out of range: |log2 η| = "
                     f"{abs(log2):.0f} is more than {MAX_LOG2_LR}",
                     hint="use a learning rate between 2^-1000 and 2^1000", needle=v)
    return [(text, math.log2(q))]  # within float range now (as before: part of the hash)


def _width(r: _Reader, v: Any) -> str | int:
    if v == "limit":
        return "limit"
    if isinstance(v, bool) or not isinstance(v, int):
        raise r.fail("width", f"'width' must be \"limit\" or a positive integer, got {v!r}",
                     needle=v)  # fmt: skip
    if v < 1:
        raise r.fail("width", f"'width' must be a positive integer, got {v}",
                     hint="widths are numbers of neurons, e.g. 256", needle=v)  # fmt: skip
    return v


def _budget(r: _Reader, v: Any) -> dict[str, Any] | None:
    if v == "":
        return None
    if not isinstance(v, dict):
        raise r.fail("budget", "'budget' must be a table like { seconds = 60 }")
    unknown = sorted(set(v) - set(BUDGET_FIELDS))
    if unknown:
        raise r.fail("budget", f"unknown budget field(s) {unknown}",
                     hint=f"use some of {', '.join(BUDGET_FIELDS)}")  # fmt: skip
    for k, x in v.items():
        if isinstance(x, bool) or not isinstance(x, (int, float)) or x <= 0:
            raise r.fail("budget", f"budget {k} must be a positive number, got {x!r}")
    return dict(sorted(v.items()))


def _data(r: _Reader, v: Any) -> dict[str, Any] | None:
    if v == "":
        return None
    if not isinstance(v, dict):
        raise r.fail("data", "'data' must be a table like { source = \"diabetes\", dims = 2, "
                     "examples = 8 }")  # fmt: skip
    unknown = sorted(set(v) - set(DATA_FIELDS))
    if unknown:
        raise r.fail("data", f"unknown data field(s) {unknown}",
                     hint=f"use some of {', '.join(DATA_FIELDS)}")  # fmt: skip
    out = {
        "source": r.choice("data", v.get("source"), DATA_SOURCES),
        "dims": r.integer("data", v.get("dims", 2), 1),
        "examples": r.integer("data", v.get("examples", 8), 1),
        "seed": r.integer("data", v.get("seed", 0), 0),
        "digits": r.integer("data", v.get("digits", 2), 0, MAX_DATA_DIGITS,
                            " (float64 data holds about 17 significant digits)"),
    }
    return out


def _check_size(r: _Reader, axes: dict[str, list[Any]], seeds: int, already: int) -> int:
    """The number of points of a table, from its axis lengths (nothing expanded yet); refused
    above MAX_POINTS (with the ``already`` points of earlier tables) or when its points would
    hold more than MAX_SPEC_EXAMPLES training examples together."""
    n_limit = sum(1 for w in axes["width"] if w == "limit")
    factors = {k: len(v) for k, v in axes.items() if k != "width"}
    factors["width"] = len(axes["width"])
    per_width = n_limit + (len(axes["width"]) - n_limit) * seeds
    count = math.prod(n for k, n in factors.items() if k != "width") * per_width
    if already + count > MAX_POINTS:
        sizes = {k: n for k, n in factors.items() if n > 1}
        if seeds > 1 and n_limit < len(axes["width"]):
            sizes["seeds"] = seeds
        key = max(sizes, key=sizes.__getitem__) if sizes else "lr"
        shape = " × ".join(f"{n} {k}" for k, n in sizes.items()) or "1"
        total = f" (with {already} of the tables before it)" if already else ""
        raise r.fail(key, f"this grid has {count:,} points ({shape}){total}: more than the "
                     f"{MAX_POINTS:,} a sweep spec may hold",
                     hint=f"shorten the largest axis, '{key}' ({sizes.get(key, 1)} values), or "
                     "split the grid into several spec files run into the same --db")
    dims = max([len(x[0]) for x in axes["inputs"] if x is not None]
               + [d["dims"] for d in axes["data"] if d is not None] + [1])
    for w in axes["width"]:
        if w == "limit":
            continue
        L = max(axes["depth"])
        weights = (L - 1) * w * w + w * (dims + 2)
        if weights > MAX_WEIGHTS:
            raise r.fail("width", f"width = {w} at depth {L} is a network of {weights:,} "
                         f"weights: more than {MAX_WEIGHTS:,} (4 GiB of float64) per point",
                         hint="widths up to a few thousand show the limit's behaviour; the "
                         "limit itself is width = \"limit\"", needle=w)  # fmt: skip
    # examples each point trains on: steps × batch_size, or all inputs when steps = 0
    n_inputs = max([len(x) for x in axes["inputs"] if x is not None]
                   + [d["examples"] for d in axes["data"] if d is not None] + [1])
    examples = 0
    for T in axes["steps"]:
        for B in axes["batch_size"]:
            if T * B > MAX_POINT_EXAMPLES:
                raise r.fail("steps", f"steps = {T} with batch_size = {B} trains on {T * B:,} "
                             f"examples: more than the {MAX_POINT_EXAMPLES:,} one point may use",
                             hint="fewer steps or smaller batches", needle=T)  # fmt: skip
            examples += T * B if T else n_inputs
    total = count // (len(axes["steps"]) * len(axes["batch_size"])) * examples
    if total > MAX_SPEC_EXAMPLES:
        raise r.fail("steps", f"the {count:,} points of this grid would hold {total:,} training "
                     f"examples together: more than {MAX_SPEC_EXAMPLES:,}",
                     hint="fewer points or fewer steps per point")  # fmt: skip
    return count


def _grid(r: _Reader, table: dict[str, Any], already: int = 0) -> list[dict[str, Any]]:
    """The points (parameter dicts, not yet hashed) of one [sweep] table; ``already``: the
    points of the tables before it (their sum is bounded by MAX_POINTS)."""
    known = set(GRID_KEYS) | set(SCALAR_KEYS)
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise r.fail(key, f"unknown key '{key}'",
                         hint=f"{hint}known keys: {', '.join(sorted(known))}")  # fmt: skip
    for key, default in GRID_KEYS.items():
        if default is None and key not in table:
            raise r.fail(None, f"missing key '{key}'", hint=f"add {key} = ... to the table")
    seeds = r.integer("seeds", table.get("seeds", 1), 1, MAX_POINTS,
                      " (one point per seed and finite width)")  # fmt: skip
    first = r.integer("first_seed", table.get("first_seed", 0), 0)
    name = table.get("name", "")
    if not isinstance(name, str):
        raise r.fail("name", "'name' must be text")

    axes: dict[str, list[Any]] = {}
    for key, default in GRID_KEYS.items():
        raw = r.as_list(key, table.get(key, default))
        vals: list[Any] = []
        for v in raw:
            if key == "builder":
                vals.append(r.choice(key, v, ("mlp",)))
            elif key == "depth":
                vals.append(r.integer(key, v, 1, MAX_DEPTH))
            elif key == "batch_size":
                vals.append(r.integer(key, v, 1, MAX_BATCH_SIZE))
            elif key == "steps":
                vals.append(r.integer(key, v, 0, MAX_STEPS))
            elif key == "activation":
                if not isinstance(v, str) or not v.strip():
                    raise r.fail(key, f"'activation' must be an expression in x, got {v!r}")
                try:
                    read_activation(v)
                except TensorProgError as e:
                    raise r.fail(key, f"activation {v!r}: {e.message}", hint=e.hint,
                                 needle=v) from None  # fmt: skip
                vals.append(v.strip())
            elif key == "lr":
                vals.extend(_lr_values(r, v))
            elif key in ("inputs", "targets", "eval_inputs"):
                if not isinstance(v, str):
                    raise r.fail(key, f"'{key}' must be text like \"1,-1,1\" or \"1 0; 0 1\"")
                vals.append(_examples_text(r, key, v) if v.strip() else None)
            elif key == "width":
                vals.append(_width(r, v))
            elif key == "mode":
                vals.append(r.choice(key, v, MODES))
            elif key == "loss":
                vals.append(r.choice(key, v, LOSSES))
            elif key == "parametrization":
                vals.append(r.choice(key, v, tuple(PRESETS)))
            elif key == "budget":
                vals.append(_budget(r, v))
            elif key == "data":
                vals.append(_data(r, v))
            elif key == "sleep":
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                    raise r.fail(key, f"'sleep' must be a number of seconds >= 0, got {v!r}")
                vals.append(v)
        axes[key] = vals

    if "limit" in axes["width"]:
        bad = [p for p in axes["parametrization"] if p != "mup"]
        if bad:
            raise r.fail("parametrization",
                         f"width = \"limit\" needs parametrization \"mup\", got {bad[0]!r}",
                         hint="the limit of SGD is built for μP (Yang & Hu, arXiv:2011.14522, "
                         "Def. 5.1); put other parametrizations in their own [[sweep]] table "
                         "with finite widths only",
                         needle=bad[0])  # fmt: skip
    has_inputs = any(x is not None for x in axes["inputs"])
    has_data = any(x is not None for x in axes["data"])
    if has_inputs == has_data or None in (axes["data"] if has_data else axes["inputs"]):
        raise r.fail("inputs" if has_inputs else "data",
                     "give either inputs + targets or data, not both or neither",
                     hint='e.g. inputs = "1,-1,1" and targets = "1,1,-1", or data = '
                     '{ source = "diabetes", dims = 2, examples = 8 }')  # fmt: skip
    if has_inputs and None in axes["targets"]:
        raise r.fail("targets", "inputs need targets")
    _check_size(r, axes, seeds, already)

    points: list[dict[str, Any]] = []
    keys = list(axes)
    datasets: dict[str, tuple[list[list[str]], list[str]]] = {}
    for combo in itertools.product(*(axes[k] for k in keys)):
        g = dict(zip(keys, combo, strict=True))
        lr_text, log2_lr = g.pop("lr")
        if g["data"] is not None:
            dkey = json.dumps(g["data"], sort_keys=True)
            if dkey not in datasets:  # loaded once per data table, not once per point
                try:
                    datasets[dkey] = load_data(g["data"])
                except TensorProgError as e:
                    raise r.fail("data", e.message, hint=e.hint) from None
            xs, ys = datasets[dkey]
            evals = xs
        else:
            xs, ys = g["inputs"], [t[0] for t in g["targets"]]
            if any(len(t) != 1 for t in g["targets"]):
                raise r.fail("targets", "each target is one number")
            if len(xs) != len(ys):
                raise r.fail("targets", f"{len(xs)} inputs but {len(ys)} targets",
                             hint="give one target per input")  # fmt: skip
            evals = g["eval_inputs"]
            if evals is not None and len(evals[0]) != len(xs[0]):
                raise r.fail("eval_inputs", "eval_inputs and inputs differ in dimension")
        B, T = g["batch_size"], g["steps"]
        if T:  # cycle through the examples for T steps of B examples
            xs = [xs[k % len(xs)] for k in range(T * B)]
            ys = [ys[k % len(ys)] for k in range(T * B)]
        elif len(xs) % B:
            raise r.fail("batch_size", f"{len(xs)} examples do not split into batches of {B}",
                         hint="give steps = ... (the examples are cycled) or more examples")
        base = {
            "builder": g["builder"], "depth": g["depth"], "activation": g["activation"],
            "lr": lr_text, "log2_lr": log2_lr, "inputs": xs, "targets": ys,
            "eval_inputs": evals, "eval_targets": ys[: len(evals)] if g["data"] else None,
            "data": g["data"], "mode": g["mode"], "budget": g["budget"],
            "parametrization": g["parametrization"], "steps": len(xs) // B, "batch_size": B,
            "loss": g["loss"], "sleep": g["sleep"], "width": g["width"], "seed": None,
        }  # fmt: skip
        if g["width"] == "limit":
            points.append(base)
        else:
            for s in range(first, first + seeds):
                points.append({**base, "seed": s})
    return points


def parse_spec(text: str, source: str = "<spec>", version: str | None = None) -> SweepSpec:
    """Validate and expand a sweep specification given as TOML text."""
    if tomllib is None:  # pragma: no cover - Python 3.10 without tomli
        raise SpecError("reading TOML on Python 3.10 needs the 'tomli' package",
                        hint="pip install tomli")  # fmt: skip
    try:
        doc = tomllib.loads(text)
    except RecursionError:  # tomllib recurses once per nesting level
        raise SpecError(f"arrays or tables nested more than {MAX_NESTING} deep",
                        loc=_deepest(text, source),
                        hint="a sweep spec needs at most a list of values or an inline "
                        "table like { log2 = [-8, 0], num = 9 }") from None  # fmt: skip
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        lines = text.splitlines()
        loc = None
        if m:
            ln, col = int(m.group(1)), int(m.group(2))
            loc = SourceLoc(source, ln, col, lines[ln - 1] if 0 < ln <= len(lines) else "")
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        raise SpecError(f"invalid TOML: {msg}", loc=loc) from None
    locator = _Locator(text, source)
    top = _Reader(locator, "", 0)
    unknown = sorted(set(doc) - {"sweep"})
    if unknown:
        key = unknown[0]
        loc = locator.loc(key, 0) if any(s[0] == key for s in locator.sections) else None
        raise SpecError(f"unknown table or key '{key}'", loc=loc or top.fail(key, "").loc,
                        hint="a sweep file holds [sweep] or [[sweep]] tables")  # fmt: skip
    tables = doc.get("sweep")
    if tables is None:
        raise SpecError("no [sweep] table", loc=SourceLoc(source, 1, 1, ""),
                        hint="start the file with [sweep] (or [[sweep]] for several grids)")
    if isinstance(tables, dict):
        tables = [tables]
    version = package_version() if version is None else version
    points: list[Point] = []
    seen: set[str] = set()
    names = []
    expanded = 0
    for k, table in enumerate(tables):
        reader = _Reader(locator, "sweep", k)
        grid = _grid(reader, table, expanded)
        expanded += len(grid)
        for params in grid:
            h = point_hash(params, version)
            if h not in seen:  # a point named by two grids runs once
                seen.add(h)
                points.append(Point(params, h, len(points)))
        names.append(table.get("name") or "")
    name = next((n for n in names if n), Path(source).stem)
    return SweepSpec(name, source, text, points, version)


def _deepest(text: str, source: str) -> SourceLoc | None:
    """Where the bracket nesting of ``text`` first exceeds MAX_NESTING (strings and comments
    skipped roughly: enough to point at the place)."""
    depth, quote, line, col0 = 0, "", 1, 0
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\n":
            line, col0 = line + 1, i + 1
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "#":
            j = text.find("\n", i)
            i = len(text) if j < 0 else j
            continue
        elif c in "[{":
            depth += 1
            if depth > MAX_NESTING:
                lines = text.splitlines()
                return SourceLoc(source, line, i - col0 + 1,
                                 lines[line - 1] if line <= len(lines) else "")
        elif c in "]}":
            depth -= 1
        i += 1
    return None


def load_spec(path: str | Path, version: str | None = None) -> SweepSpec:
    """Read, validate and expand the sweep specification in the TOML file ``path`` (a regular
    UTF-8 file: FIFOs, devices, binary and Latin-1 files are refused cleanly)."""
    try:
        text = read_text(path, what="sweep spec")
    except TensorProgError as e:
        raise SpecError(e.message, hint=e.hint) from None
    return parse_spec(text, str(path), version)
