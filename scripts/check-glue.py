"""Fails when the PyO3 glue (src/py) does more than convert.

The glue's rules (ARCHITECTURE.md), each with the one place allowed to
break it:

- no mutable static: a process's state lives in src/core; the glue keeps
  only cached Python objects (``PyOnceLock``) and the task-local of
  pyo3-async-runtimes;
- no thread, spawn or sleep but in the attempt runner (attempt.rs) and the
  runtime adapter pyo3-async-runtimes spawns through (runtime.rs);
- the GIL is released in one helper (gil.rs): ``py.detach`` nowhere else;
- Python's loggers are called from one place (events.rs): no other file
  imports ``baldur._events``.

Usage: python scripts/check-glue.py [src/py]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

RULES: list[tuple[str, re.Pattern[str], set[str]]] = [
    (
        "a mutable static (state belongs in src/core)",
        re.compile(r"^\s*(?:pub(?:\(crate\))?\s+)?static\s+\w+\s*:\s*(?!\s|PyOnceLock\b)"),
        {"runtime.rs"},  # the task-local of pyo3-async-runtimes
    ),
    (
        "a thread, spawn or sleep",
        re.compile(r"thread::(?:spawn|sleep|Builder)|\.spawn(?:_blocking)?\(|tokio::time::sleep"),
        {"attempt.rs", "runtime.rs"},
    ),
    ("the GIL released outside gil.rs", re.compile(r"\bpy\.detach\("), {"gil.rs"}),
    ("a call into baldur._events", re.compile(r'"baldur\._events"'), {"events.rs"}),
]


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "src/py")
    problems = []
    for path in sorted(root.rglob("*.rs")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.lstrip().startswith("//"):
                continue
            for what, pattern, allowed in RULES:
                if path.name not in allowed and pattern.search(line):
                    problems.append(f"{path}:{number}: {what}: {line.strip()}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(f"{root}: converts only (no static state, thread, stray GIL release or logger call)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
