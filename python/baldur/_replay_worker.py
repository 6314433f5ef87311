"""The standing DLQ replay worker: a built-in scheduled task, on the leader
only, that every ``BALDUR_DLQ_REPLAY_INTERVAL_SECONDS`` (60) replays the
pending entries of each zone whose breaker is closed, at most
:data:`BATCH_PER_ZONE` of them per zone a round. It replays through
:func:`baldur.dlq.replay_batch`, the Python API's own replay (the same
claim, protection and bookkeeping as an operator's). The sweep a breaker's
recovery starts stays: this worker is for what that sweep did not see
(entries recorded while the breaker never opened, a process that died
mid-sweep). An open zone is left alone: its entries wait for the breaker.
"""

from __future__ import annotations

import logging

import baldur._core as _core
import baldur._events as _events
import baldur.circuits as _circuits
import baldur.dlq as _dlq
import baldur.scheduler as _scheduler
from baldur._settings import Settings

#: The worker's task name (in ``baldur.scheduler.status()`` and its logs).
NAME = "baldur.dlq_replay"
#: Entries replayed per zone a round: a large backlog drains over several
#: rounds instead of holding the scheduler's thread for one long one.
BATCH_PER_ZONE = 50

#: Breaker states in which calls go through, so a replay may too.
_CLOSED = frozenset({_core.CIRCUIT_CLOSED, _core.CIRCUIT_FORCED_CLOSED})

_log = logging.getLogger("baldur.replay")


def apply(settings: Settings) -> None:
    """``init()``'s part: the worker (re)scheduled at the configured
    interval (from now), and the scheduler started."""
    _scheduler.cancel(NAME)
    _scheduler.schedule(
        NAME, replay_round, every=settings.dlq_replay_interval_seconds, leader_only=True
    )
    _scheduler.start()


def may_replay(zone: str) -> bool:
    """The governance hook: whether the worker may replay ``zone`` now.
    Governance (its ``replay_worker`` action) answers here once it exists;
    until then, always yes."""
    del zone
    return True


def replay_round() -> dict[str, int]:
    """One round: each zone with entries, whose breaker is closed and that
    governance lets through, gets one bounded batch. Returns the entries
    replayed successfully by zone (zones replaying nothing left out)."""
    zones = [zone for zone, count in _dlq.stats()["by_zone"].items() if count > 0]
    replayed: dict[str, int] = {}
    for zone in zones:
        if _circuits.circuit_state(zone) not in _CLOSED or not may_replay(zone):
            continue
        outcomes = _dlq.replay_on_its_own(zone, BATCH_PER_ZONE)
        if not outcomes:
            continue
        ok = sum(1 for outcome in outcomes if outcome.get("ok"))
        replayed[zone] = ok
        _events.emit(
            _log,
            logging.INFO,
            "replay.worker_replayed",
            zone=zone,
            replayed=ok,
            failed=len(outcomes) - ok,
        )
    return replayed
