"""Fails when the modules of python/baldur import upward or in a circle.

The package stands in floors, lowest first (FLOORS below): a module imports
only modules on its own floor or lower ones. A lower floor never reaches into
a higher one to tell it something (a logger starting a DLQ sweep,
configuration calling features, a drain clearing health's cache): it
announces through ``baldur._bus``, and the package's ``__init__``, the one
module that wires the floors together, subscribes the higher floor. Every
module must stand on a floor: a new module fails the check until it is
placed. Within a floor, imports must not run in a circle either.

Every import statement is read, those inside functions too: ruff refuses
them in the package (PLC0415) but for optional third-party extras, and a
type checker's import (``if TYPE_CHECKING:``) is a dependency all the same.

Usage: python scripts/check-python-imports.py [package-dir]
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from graph import circles

#: The floors, lowest first, and the modules on each (named within the
#: package; ``__init__`` is the package itself).
FLOORS: dict[str, tuple[str, ...]] = {
    # The compiled Rust core, and what needs nothing of the package's own
    # state: errors, validators, redaction, pure codecs, the runtime's hooks.
    "base": ("_core", "exceptions", "_redact", "_validate", "_http", "_dlq_codec", "_runtime"),
    # How a module tells others what happened: the bus, the log events, the
    # recent-activity ring.
    "signals": ("_bus", "_audit", "_events", "_activity"),
    # The settings: read, validated, applied to the core; announced on the bus.
    "configuration": (
        "_data_dir",
        "_known_settings",
        "_admin_settings",
        "_settings",
        "_config",
    ),
    # What a callsite asks for: retry policy, classification, idempotency
    # options, the zone built from them, what a replay may call.
    "policy": ("retry", "_options", "_classify", "_idempotency", "_zones", "_dlq_registry"),
    # Running a protected call: the decorators, the function forms, the async
    # driver, recording a dead letter.
    "drivers": ("_facade", "_calls", "_async", "_dlq"),
    # What an operator acts on: the kill switch, breakers by hand, graceful
    # shutdown, the dead-letter queue and its replay.
    # ... and what runs on a schedule: the scheduler, the standing replay
    # worker.
    "features": (
        "_bulkhead",
        "_kill_switch",
        "kill_switch",
        "circuits",
        "_shutdown",
        "dlq",
        "leader",
        "scheduler",
        "_replay_worker",
        # Notifications: the channels, then baldur.notify and its worker.
        "_notify_channels",
        "_notify",
        "_self_alerts",
        # The audit trail, read back and verified.
        "audit",
    ),
    # What reports on all of it: health, metrics, the dashboard, the endpoints.
    "reports": ("health", "_builtin_checks", "_collector", "metrics", "dashboard", "endpoints"),
    # The operator's surface: the control API's routes, the console's files,
    # the admin key, the admin server that serves them.
    "operator": (
        "_control_api_http",
        "_control_api_actions",
        "_control_api",
        "_console",
        "_admin_key",
        "_admin_server",
    ),
    # The one place the floors are wired together.
    "wiring": ("__init__",),
    # Users of the package, which the package never imports: framework
    # adapters, the demo, the testing helpers.
    "integrations": (
        "testing",
        "demo",
        "cli",
        "cli._client",
        "cli._commands",
        "cli._render",
        "__main__",
        "adapters",
        "adapters._requires",
        "adapters._serving",
        "adapters.celery",
        "adapters.fastapi",
        "adapters.flask",
        "adapters.gunicorn",
        "adapters.django",
        "adapters.django.apps",
        "adapters.django.databases",
        "adapters.django.middleware",
        "adapters.django.urls",
        "adapters.django.views",
    ),
}


def module_names(root: Path) -> dict[str, Path]:
    """Every module of the package by its dotted name: its ``.py`` files, and
    a compiled module known by its stub alone (``_core.pyi``)."""
    names = {}
    for path in sorted([*root.rglob("*.py"), *root.rglob("*.pyi")]):
        if path.suffix == ".pyi" and path.with_suffix(".py").exists():
            continue
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules ``name`` imports. ``from pkg import mod`` is an
    import of ``pkg.mod``, not of ``pkg`` (whose ``__init__`` is already
    running when one of its modules is imported); ``from pkg import thing``
    takes ``thing`` from ``pkg`` itself."""
    if path.suffix == ".pyi":
        return set()  # a stub's imports are for the type checker
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
            candidates = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        found.update(c for c in candidates if c in known and c != name)
    return found


def floor_of(package: str) -> dict[str, tuple[int, str]]:
    """Each module's dotted name -> (floor number, floor name)."""
    floors = {}
    for number, (floor, modules) in enumerate(FLOORS.items()):
        for module in modules:
            dotted = package if module == "__init__" else f"{package}.{module}"
            floors[dotted] = (number, floor)
    return floors


def problems(root: Path) -> tuple[list[str], int]:
    """What is wrong with the package at ``root``, and how many modules it has."""
    known = module_names(root)
    floors = floor_of(root.name)
    found = [
        f"{known[name]} ({name}) stands on no floor: add it to FLOORS in "
        "scripts/check-python-imports.py, on the floor of what it does"
        for name in sorted(set(known) - set(floors))
    ]
    edges = {name: imports_of(name, path, known) for name, path in known.items()}
    for name in sorted(edges):
        if name not in floors:
            continue
        number, floor = floors[name]
        for other in sorted(edges[name]):
            if other in floors and floors[other][0] > number:
                found.append(
                    f"{name} ({floor}) imports {other} ({floors[other][1]}), a higher floor: "
                    "announce through the bus (_bus) and let the package's __init__ "
                    "subscribe the higher floor, or move the module"
                )
    found += ["import circle: " + " -> ".join(component) for component in circles(edges)]
    return found, len(known)


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "python/baldur")
    found, count = problems(root)
    for problem in found:
        print(problem, file=sys.stderr)
    if not found:
        print(
            f"{root}: {count} modules on {len(FLOORS)} floors, none imports upward or in a circle"
        )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
