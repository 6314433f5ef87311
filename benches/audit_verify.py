"""How fast ``baldur.audit.verify()`` walks a chain (issue 19 asks for
100,000 records a second or better).

The chain is written with the standard library alone, by the contract's
formula (``hashlib.sha256(json.dumps(record, sort_keys=True,
separators=(",", ":")))``), straight into ``baldur_audit``: so the run also
checks that Baldur's hashes and an auditor's agree.

Usage: python benches/audit_verify.py [RECORDS]   (default 100,000)
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import tempfile
import time

import baldur
import baldur.audit


def write_chain(path: str, records: int) -> None:
    previous = "0" * 64
    rows = []
    for seq in range(1, records + 1):
        record = {
            "seq": seq,
            "at": 1_733_300_000.0 + seq / 1000,
            "actor": "baldur",
            "action": "cb.transition",
            "target": f"zone-{seq % 50}",
            "reason": None,
            "details": {"from": "closed", "to": "open", "cause": "failure_threshold"},
            "prev_hash": previous,
        }
        text = json.dumps(record, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(text.encode()).hexdigest()
        details = json.dumps(record["details"], sort_keys=True, separators=(",", ":"))
        rows.append((seq, record["at"], "baldur", "cb.transition", record["target"]))
        rows[-1] += (None, details, previous, digest)
        previous = digest
    with sqlite3.connect(path) as connection:
        connection.executemany("INSERT INTO baldur_audit VALUES (?,?,?,?,?,?,?,?,?)", rows)


def main() -> None:
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    data_dir = tempfile.mkdtemp(prefix="baldur-audit-bench-")
    os.environ["BALDUR_DATA_DIR"] = data_dir
    os.environ["BALDUR_ADMIN_PORT"] = "0"
    baldur.init(audit_enabled=True)
    assert baldur.audit.verify().ok  # creates the table
    write_chain(os.path.join(data_dir, "audit.sqlite3"), records)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        verdict = baldur.audit.verify()
        best = min(best, time.perf_counter() - started)
    assert verdict.ok and verdict.checked == records, verdict
    print(f"audit verify: {records / best:,.0f} records/s ({best:.3f} s for {records:,} records)")


if __name__ == "__main__":
    main()
