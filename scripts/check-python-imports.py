"""Fails when the modules of python/baldur import each other in a circle.

A circle is how a lower floor ends up reaching into a higher one (a logger
starting a DLQ sweep, configuration calling features); the package's
``__init__`` is the one module allowed to import everything, since it wires
the floors together, and is left out. Imports inside functions are refused
by ruff (PLC0415), so the module-level imports read here are all there are.
Usage: python scripts/check-python-imports.py [package-dir]
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def module_names(root: Path) -> dict[str, Path]:
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        found.update(c for c in candidates if c in known and c != name)
    return found


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "python/baldur")
    known = module_names(root)
    wiring = root.name  # the package's __init__
    edges = {
        name: imports_of(name, path, known) - {wiring}
        for name, path in known.items()
        if name != wiring
    }
    found = circles(edges)
    for component in found:
        print("import circle: " + " -> ".join(component), file=sys.stderr)
    if not found:
        print(f"{root}: {len(edges)} modules, no import circle")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
