"""The house's rules, checked on the code's own imports: no import cycle; packages import only the layers below
them (so arrows point down, as docs/architecture.md draws them); the pure core imports no web framework, SQL
or telephony SDK; only telephony (and the simulator, which checks requests against the SDK's types) imports
the Telnyx SDK; modules stay small."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "survey_bot"
# Lowest first. A module may import its own layer's modules and anything below, never above.
LAYERS = [
    {"errors", "config", "vocabulary", "utc", "json_codec", "logs", "periodic", "observe"},
    {"forms"},
    {"flow", "campaigns"},
    {"telephony"},
    {"storage"},
    {"runtime"},
    {"intake"},
    {"dispatch", "jobs"},
    {"reports"},
    {"web"},
    {"serving", "simulator"},
    {"sandbox"},
    {"cli"},
]
PURE_CORE = {"errors", "config", "vocabulary", "utc", "forms", "flow", "campaigns"}
FRAMEWORKS = ("quart", "sqlalchemy", "telnyx", "aiohttp", "uvicorn", "hypercorn", "asyncpg", "aiosqlite", "httpx")
MAX_LINES = 320


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path) -> Iterator[str]:
    """Every module `path` imports (function-level imports included: they are arrows too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def unit(module: str) -> str:
    """The part of survey_bot a module belongs to: its top-level package or loose module."""
    return module.split(".")[1] if module.count(".") >= 1 else module


def layer(module: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if unit(module) in names)


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {target for target in imports(path) if target in known and target not in (name, "survey_bot")}
            for name, path in known.items() if name not in ("survey_bot", "survey_bot.__main__")}


def test_every_part_of_the_package_has_a_layer() -> None:
    placed = {name for names in LAYERS for name in names}
    assert {unit(name) for name in graph()} <= placed


def test_no_import_cycle() -> None:
    edges = graph()
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                cycle = [*trail[trail.index(target):], target] if target in trail else [node, target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*trail, target])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])


def test_imports_point_down() -> None:
    upward = [f"{name} (layer {layer(name)}) imports {target} (layer {layer(target)})"
              for name, targets in graph().items() for target in targets if layer(target) > layer(name)]
    assert not upward, "\n".join(upward)


def test_only_telephony_and_the_simulator_import_the_telnyx_sdk() -> None:
    users = {name for name, path in modules().items()
             if any(target == "telnyx" or target.startswith("telnyx.") for target in imports(path))}
    assert users and {unit(name) for name in users} <= {"telephony", "simulator"}, sorted(users)


def test_the_pure_core_imports_no_framework_sql_or_sdk() -> None:
    impure = [f"{name} imports {target}" for name, path in modules().items() if unit(name) in PURE_CORE
              for target in imports(path) if target.split(".")[0] in FRAMEWORKS]
    assert not impure, "\n".join(impure)


def test_modules_stay_small() -> None:
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_every_package_is_installed_by_a_regular_install() -> None:
    """pyproject's explicit package list names every package (an editable install finds them anyway; a wheel
    would silently leave one out)."""
    listed = set(re.findall(r'"(survey_bot(?:\.[a-z_]+)*)"', (PACKAGE.parent / "pyproject.toml").read_text()))
    packages = {".".join(p.relative_to(PACKAGE.parent).parent.parts) for p in PACKAGE.rglob("__init__.py")}
    assert packages <= listed, sorted(packages - listed)
