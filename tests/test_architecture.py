"""The package's layers: each folder imports only from layers below it, and no module cycle exists.

Imports inside functions count too: a deferred import keeps a dependency, it only delays it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "plugins" / "threatstream"

#: Lowest first. A module may import from its own layer's packages and from any layer below.
LAYERS: list[set[str]] = [
    {"exceptions", "compat", "settings", "naming", "connections"},
    {"canonical", "parsing", "records", "rules"},
    {"batches", "feeds", "store", "merged"},
    {"sources"},
    {"monitoring"},
    {"operators"},
    {"pipelines", "cli", "provider_info", "api"},
]
LAYER_OF = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every ``threatstream.*`` module the file imports, at any depth of the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("threatstream"):
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if _is_module(f"{node.module}.{alias.name}")
            )
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("threatstream"))
    return found


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").exists() or (PACKAGE / relative / "__init__.py").exists()


MODULES = {_module_name(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_top_level_module_and_folder_has_a_layer() -> None:
    assert {_top(name) for name in MODULES} - {""} <= set(LAYER_OF)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_runs_up_the_layers(module: str) -> None:
    own = LAYER_OF.get(_top(module), -1)
    upward = sorted(target for target in MODULES[module] if LAYER_OF.get(_top(target), -1) > own)
    assert not upward, f"{module} (layer {own}) imports from a higher layer: {upward}"


def test_no_import_cycle() -> None:
    graph = {
        name: {t for t in targets if t in MODULES and t != name and not name.startswith(t + ".")}
        for name, targets in MODULES.items()
    }
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycle = [*stack[stack.index(target) :], target]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
