"""Fails when files of src/core and src/py import each other in a circle.

check-core-layers.py keeps the core's folders in order; this keeps their
files in order too: a circle of files (a fork handler calling up into the
services it resets, a driver and its dead-letter recording sharing a type)
is how a layer's insides start to knot. Reads every ``crate::core::...`` and
``crate::py::...`` path and every ``super::`` path, follows a name a folder
re-exports (``pub use machine::CircuitBreaker`` in breaker/mod.rs) to the
file that defines it, and reports each circle with the names that tie it.
Usage: python scripts/check-rust-circles.py [src]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from graph import circles

PATH = re.compile(r"\b(crate|super)((?:::\w+)+)(::\{([^}]*)\})?")
REEXPORT = re.compile(r"pub(?:\(crate\))?\s+use\s+(\w+)::(\{[^}]*\}|\w+)")


def module_dir(path: Path) -> Path:
    """The folder a file's own `super::` is relative to's parent."""
    return path.parent if path.name in ("mod.rs", "lib.rs") else path.with_suffix("")


def resolve(src: Path, segments: list[str]) -> tuple[Path, str | None] | None:
    """The file a path names (deepest file or folder that exists), and the
    item it names inside that file, if any."""
    here = src
    found: tuple[Path, str | None] | None = None
    for index, segment in enumerate(segments):
        as_file, as_dir = here / f"{segment}.rs", here / segment / "mod.rs"
        rest = segments[index + 1] if index + 1 < len(segments) else None
        if as_file.exists():
            found, here = (as_file, rest), here / segment
        elif as_dir.exists():
            found, here = (as_dir, rest), here / segment
        else:
            break
    return found


def reexports(mod_rs: Path) -> dict[str, Path]:
    """Names a folder's mod.rs hands on from its own files."""
    names: dict[str, Path] = {}
    folder = mod_rs.parent
    for module, items in REEXPORT.findall(mod_rs.read_text()):
        target = folder / f"{module}.rs"
        if not target.exists():
            target = folder / module / "mod.rs"
        if not target.exists():
            continue
        for item in re.findall(r"\w+", items):
            names[item] = target
    return names


def edges_of(src: Path, path: Path) -> dict[Path, set[str]]:
    found: dict[Path, set[str]] = {}
    text = "\n".join(
        line for line in path.read_text().splitlines() if not line.lstrip().startswith("//")
    )
    for root, tail, _, group in PATH.findall(text):
        segments = tail.strip(":").split("::")
        if root == "super":
            base = module_dir(path).parent
            start = [*base.relative_to(src).parts]
        else:
            start = []
        items = [i.strip() for i in group.split(",")] if group else [None]
        for item in items:
            full = [*start, *segments, *([item.split("::")[0]] if item else [])]
            full = [s for s in full if s and s != "self"]
            target = resolve(src, full)
            if target is None:
                continue
            file, name = target
            if file.name == "mod.rs" and name:
                file = reexports(file).get(name, file)
            if file != path:
                found.setdefault(file, set()).add(name or file.stem)
    return found


def main() -> int:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    files = [p for p in sorted(src.rglob("*.rs")) if p.parent != src]
    edges = {path: edges_of(src, path) for path in files}
    # A folder's mod.rs declares its files; only its `use` lines are edges.
    found = circles(edges)
    for component in found:
        print(f"circle of {len(component)} files:", file=sys.stderr)
        for member in component:
            for other, names in sorted(edges[member].items()):
                if other in component:
                    print(f"  {member} -> {other}: {', '.join(sorted(names))}", file=sys.stderr)
    if found:
        return 1
    print(f"{src}: {len(files)} files, no circle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
