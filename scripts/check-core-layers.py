"""Fails when src/core imports upward, or one feature imports another.

The core's layers, bottom up (a module may use its own layer's and lower
layers' modules only):

- base: the clock, errors, the event sink, the fork-replaceable cell, shared
  names, random numbers, the runtime, tallies
- infrastructure: the sliding window, the shared stores (Redis, health, WAL)
- features: breaker, retry, idempotency, dlq, control, metrics, admin, audit, leader;
  a feature folder never uses another feature folder (they meet in composition)
- composition: protect (the pipeline over every feature), process (the
  process's services: registry, gate, stores, queues, the fork order)

Every top-level module of src/core must be placed here: a new one fails until
it is. Usage: python scripts/check-core-layers.py [src/core]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

LAYERS = {
    "clock": 0,
    "error": 0,
    "events": 0,
    "fork_cell": 0,
    "names": 0,
    "random": 0,
    "runtime": 0,
    "tally": 0,
    "window": 1,
    "store": 1,
    "breaker": 2,
    "bulkhead": 2,
    "retry": 2,
    "idempotency": 2,
    "dlq": 2,
    "control": 2,
    "metrics": 2,
    "admin": 2,
    "audit": 2,
    "schedule": 2,
    "leader": 2,
    "watchdog": 2,
    "notify": 2,
    "protect": 3,
    "process": 3,
}
NAMES = {0: "base", 1: "infrastructure", 2: "features", 3: "composition"}
FEATURES = 2

USE = re.compile(r"crate::core::(\w+)")


def top_module(root: Path, path: Path) -> str:
    return path.relative_to(root).parts[0].removesuffix(".rs")


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "src/core")
    problems = []
    for path in sorted(root.rglob("*.rs")):
        if path == root / "mod.rs":
            continue
        here = top_module(root, path)
        if here not in LAYERS:
            problems.append(f"{path}: module {here!r} has no layer in scripts/check-core-layers.py")
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.lstrip().startswith("//"):
                continue  # doc examples and comments name paths freely
            for used in USE.findall(line):
                if used == here or used not in LAYERS:
                    continue
                mine, theirs = LAYERS[here], LAYERS[used]
                if theirs > mine:
                    problems.append(
                        f"{path}:{number}: {NAMES[mine]} module {here!r} uses "
                        f"{NAMES[theirs]} module {used!r} (upward)"
                    )
                elif mine == theirs == FEATURES:
                    problems.append(
                        f"{path}:{number}: feature {here!r} uses feature {used!r} "
                        "(features meet in composition)"
                    )
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{root}: every module in its layer, nothing imports upward")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
