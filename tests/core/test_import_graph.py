"""The import graph shows the intended flow: core <- market <- contracts <- scoring <- disclosure,
demo on top.

Module-level imports only (those under `if TYPE_CHECKING:` included: they are edges a reader
sees): a downstream field on an upstream type is a string annotation with `strawberry.lazy` and a
resolver that imports the downstream function in its body, which is not an edge here.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "market", "contracts", "scoring", "disclosure", "demo")
# What each package may import, besides itself and the standard library / third parties.
ALLOWED = {
    "core": set(),
    "market": {"core"},
    "contracts": {"core", "market"},
    "scoring": {"core", "market", "contracts"},
    "disclosure": {"core", "market", "contracts", "scoring"},
    "demo": {"core", "market", "contracts", "scoring", "disclosure"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path) -> set[str]:
    """Modules imported at module level, `if TYPE_CHECKING:` blocks included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    body = list(tree.body)
    while body:
        node = body.pop(0)
        if isinstance(node, ast.If):
            body.extend(node.body)
            body.extend(node.orelse)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}
    modules["app"] = ROOT / "app.py"
    return {
        name: {imported for imported in _top_level_imports(path) if imported in modules}
        for name, path in modules.items()
    }


def test_each_package_imports_only_upstream():
    wrong = []
    for module, imports in _graph().items():
        package = module.split(".")[0]
        if package == "app":
            continue
        for imported in imports:
            target = imported.split(".")[0]
            if target not in (package, *ALLOWED[package]):
                wrong.append(f"{module} imports {imported}")
    assert wrong == []


def test_nothing_imports_the_demo_or_the_composition_root():
    importers = [
        module
        for module, imports in _graph().items()
        if not module.startswith("demo")
        and any(i == "app" or i == "demo" or i.startswith("demo.") for i in imports)
    ]
    assert importers == []


def test_no_module_imports_itself_through_a_cycle():
    graph = _graph()
    cycles: list[list[str]] = []

    def walk(module: str, path: list[str], done: set[str]) -> None:
        for imported in sorted(graph.get(module, ())):
            if imported in path:
                cycles.append([*path[path.index(imported) :], imported])
            elif imported not in done:
                walk(imported, [*path, imported], done)
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        walk(module, [module], done)
    assert cycles == []
