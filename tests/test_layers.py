"""The package's import structure: acyclic, and layered (an import-linter style contract).

The graph is read from the source with ``ast``: an edge ``a -> b`` for every module-level
``import``/``from ... import`` of a tensorprog module ``b`` in module ``a`` (imports inside
functions and ``if TYPE_CHECKING:`` blocks are not edges: they do not run at import time).
Importing ``tensorprog.x.y`` first runs ``tensorprog/x/__init__.py``, so that is an edge too
(except for the root package, which imports the public API and is the top layer).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tensorprog

ROOT = Path(tensorprog.__file__).parent

# Lowest layer first. A module may import modules of its own layer or of a lower one, never of
# a higher one. A module is matched by its longest listed prefix (``tensorprog.backends.plan``
# before ``tensorprog.backends``).
LAYERS: list[list[str]] = [
    # leaves: errors, math helpers, the expression grammar (no IR)
    [
        "tensorprog.errors",
        "tensorprog.functions",
        "tensorprog.files",
        "tensorprog.budget",
        "tensorprog.symbols",
        "tensorprog.expr",
        "tensorprog.numpy_algebra",
        "tensorprog.syntax",
        "tensorprog.backends",  # the polynomial backends: no IR
        "tensorprog.gaussian",
        "tensorprog.parametrization",
    ],
    # the IR itself and its generic walkers
    ["tensorprog.nodes", "tensorprog.ir"],
    # readers of the IR: statement parser and printer, interpreters, planners, results
    [
        "tensorprog.lang",
        "tensorprog.backends.plan",
        "tensorprog.result",
        "tensorprog.zrules",
        "tensorprog.polynomial",
        "tensorprog.numeric",
        "tensorprog.finite",
    ],
    # the limit engine
    ["tensorprog.zcalc"],
    # models built on top of the engine
    [
        "tensorprog.builders",
        "tensorprog.transforms",
        "tensorprog.kernels",
        "tensorprog.training",
    ],
    ["tensorprog.regimes", "tensorprog.features"],
    # applications
    ["tensorprog.sweep", "tensorprog.experiments"],
    # entry points
    ["tensorprog.cli", "tensorprog.__main__", "tensorprog"],
]


_BARE_ROOT = (
    "import importlib, sys, types\n"
    "pkg = types.ModuleType('tensorprog')\n"
    f"pkg.__path__ = [{str(ROOT)!r}]\n"
    "sys.modules['tensorprog'] = pkg\n"
)


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _runtime_statements(body: list[ast.stmt]):
    """Module-level statements that run on import (into try/if blocks, not TYPE_CHECKING)."""
    for stmt in body:
        if isinstance(stmt, ast.If):
            test = ast.unparse(stmt.test)
            if "TYPE_CHECKING" in test:
                yield from _runtime_statements(stmt.orelse)
                continue
            yield from _runtime_statements(stmt.body)
            yield from _runtime_statements(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            for block in (stmt.body, stmt.orelse, stmt.finalbody, *(h.body for h in stmt.handlers)):
                yield from _runtime_statements(block)
        else:
            yield stmt


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        package = mod if is_pkg else mod.rpartition(".")[0]
        tree = ast.parse(path.read_text(), filename=str(path))
        targets: list[str] = []
        for stmt in _runtime_statements(tree.body):
            if isinstance(stmt, ast.Import):
                targets += [a.name for a in stmt.names]
            elif isinstance(stmt, ast.ImportFrom):
                if stmt.level:
                    base = package.split(".")
                    base = base[: len(base) - (stmt.level - 1)]
                    prefix = ".".join(base + ([stmt.module] if stmt.module else []))
                else:
                    prefix = stmt.module or ""
                # `from . import x` imports the submodule x when there is one
                for a in stmt.names:
                    sub = f"{prefix}.{a.name}"
                    targets.append(sub if sub in mods else prefix)
        for t in targets:
            if not t.startswith("tensorprog"):
                continue
            target = resolve(t)
            if target is None or target == mod:
                continue
            graph[mod].add(target)
            # importing a.b.c first runs a/b/__init__.py, unless we are inside package a.b
            # (then it already runs, and it may import us: the usual package layout)
            parts = target.split(".")
            for i in range(2, len(parts)):
                parent = ".".join(parts[:i])
                if not (mod == parent or mod.startswith(parent + ".")):
                    graph[mod].add(parent)
    for mod in list(graph):
        # an edge to a package also means "runs its parents" (already in the graph)
        graph[mod].discard("tensorprog")
    return graph


def _layer(mod: str) -> int:
    best, best_len = None, -1
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            if (mod == prefix or mod.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    assert best is not None, f"{mod} is in no layer: add it to LAYERS in tests/test_layers.py"
    return best


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    for start in sorted(graph):
        if start in state:
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(sorted(graph[nxt]))))
    return None


def test_import_graph_is_acyclic():
    cycle = _find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_imports_respect_layers():
    bad = []
    for mod, targets in import_graph().items():
        for t in targets:
            if _layer(t) > _layer(mod):
                bad.append(f"{mod} (layer {_layer(mod)}) imports {t} (layer {_layer(t)})")
    assert not bad, "\n".join(sorted(bad))


def test_every_module_is_in_a_layer():
    for mod in _modules():
        _layer(mod)


def test_every_module_imports_in_a_fresh_interpreter_in_dependency_order():
    """Leaves first: each module imports with only its dependencies loaded before it."""
    graph = import_graph()
    order: list[str] = []
    done: set[str] = set()

    def visit(m: str) -> None:  # the graph is acyclic (test above) and shallow
        if m in done:
            return
        done.add(m)
        for t in sorted(graph[m]):
            visit(t)
        order.append(m)

    for m in sorted(graph):
        visit(m)
    order = [m for m in order if m not in ("tensorprog", "tensorprog.__main__")]
    # The root package's __init__ imports the whole public API; replace it by a bare package
    # so that each module really is imported with only what it needs loaded before it.
    code = _BARE_ROOT + f"for m in {order!r}:\n    importlib.import_module(m)\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]


def test_expression_grammar_does_not_load_the_ir():
    """The leaf modules really are leaves: importing them alone does not pull in the IR."""
    code = (
        _BARE_ROOT
        + "import tensorprog.syntax, tensorprog.symbols, tensorprog.expr\n"
        "e = tensorprog.syntax.parse_expression('a^2 + tanh(b)')\n"
        "assert 'tensorprog.ir' not in sys.modules, sorted(sys.modules)\n"
        "assert 'tensorprog.lang' not in sys.modules\n"
        "print(e)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "tanh(b)" in r.stdout
