"""One process of a fleet under test: it joins the election at the Redis URL
given and prints what it sees, a JSON line every few milliseconds, until
killed. With ``--work`` it also does the leader's work the way a real
leader does: under the token it last led with, through a fenced write, so a
write in flight when it was paused is seen refused or applied.

Usage: python leader_worker.py REDIS_URL LEASE_SECONDS [--work]
"""

from __future__ import annotations

import json
import os
import sys
import time

import baldur
import baldur.leader


def main() -> None:
    url, lease = sys.argv[1], float(sys.argv[2])
    work = "--work" in sys.argv[3:]
    baldur.init(leader_election_redis_url=url, leader_lease_seconds=lease, admin_port=0)
    held: int | None = None  # the token this process last led with
    while True:
        before = time.time()
        status = baldur.leader.status()
        after = time.time()
        line: dict[str, object] = {
            "pid": os.getpid(),
            "before": before,
            "after": after,
            "leader": status.is_leader,
            "token": status.token,
            "leader_id": status.leader_id,
        }
        if status.is_leader:
            held = status.token
        if work and held is not None:
            try:
                wrote = baldur.leader.fenced("work", f"{os.getpid()}:{held}", token=held)
            except ConnectionError:
                wrote = None  # Redis slower than the store's timeout: try again
            line["wrote"] = wrote
            line["held"] = held
        print(json.dumps(line), flush=True)
        time.sleep(0.01)


if __name__ == "__main__":
    main()
