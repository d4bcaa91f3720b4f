"""The code follows the data one way: no import cycle, and no layer imports a layer above it.

Layers, lowest first (docs/design_notes.md, "Where things live"):

    0 errors, engine        what every module may use
    1 staging, demo         read and validate a dataset (the demo generator writes one)
    2 marts                 derived tables shared by chapters
    3 metrics               one module per chapter, shared statistics
    4 present, book         tables as published, glue, figures, the summary; the notebooks' facade
    5 run                   runner, site, command line

Every import counts, also one inside a function: a lazy import is how a cycle hides.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import growthloop

SRC = Path(growthloop.__file__).parent
LAYERS = {"errors": 0, "engine": 0, "staging": 1, "demo": 1, "marts": 2, "metrics": 3,
          "present": 4, "book": 4, "run": 5}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def imports_of(path: Path) -> set[str]:
    """The growthloop modules a file imports (a `from package import module` names the module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("growthloop"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.startswith("growthloop"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if (SRC.parent / (sub.replace(".", "/") + ".py")).exists()
                          or (SRC.parent / sub.replace(".", "/")).is_dir() else node.module)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        name = module_name(path)
        out[name] = {m for m in imports_of(path) if m != name}
    return out


def test_every_module_has_a_layer(graph):
    unplaced = sorted(m for m in graph if m != "growthloop" and layer(m) is None)
    assert unplaced == [], f"add these to LAYERS (and to the layer map in the design notes): {unplaced}"


def cycles(graph: dict[str, set[str]]) -> set[str]:
    """Every import cycle of the graph, as 'a -> b -> a' from each module on one."""
    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, path = stack.pop()
            for dep in sorted(graph.get(node, ())):
                if dep == start:
                    return [*path, dep]
                if dep not in seen:
                    seen.add(dep)
                    stack.append((dep, [*path, dep]))
        return None

    return {" -> ".join(c) for m in graph if (c := cycle_from(m))}


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Imports from a module into a layer above its own."""
    return sorted(f"{m} -> {d}" for m, deps in graph.items() for d in deps
                  if layer(m) is not None and layer(d) is not None and layer(d) > layer(m))


def test_no_layer_imports_a_layer_above_it(graph):
    assert upward(graph) == []


def test_no_import_cycle(graph):
    assert cycles(graph) == set()


def test_the_checks_see_what_they_refuse(graph):
    # positive controls: the graph holds the imports we know of, and the checks catch a cycle
    # (config -> rfm -> loader -> config, as it was) and an upward import
    assert "growthloop.marts.identity" in graph["growthloop.metrics.funnel"]
    assert "growthloop.staging.loader" in graph["growthloop.marts.wide"]
    bad = {"growthloop.staging.config": {"growthloop.metrics.rfm"},
           "growthloop.metrics.rfm": {"growthloop.staging.loader"},
           "growthloop.staging.loader": {"growthloop.staging.config"}}
    assert len(cycles(bad)) == 3
    assert upward(bad) == ["growthloop.staging.config -> growthloop.metrics.rfm"]
