"""The control API's handlers: breakers, the dead-letter queue, the kill
switch and the leader, each a thin call of the function the Python API
offers (no second implementation of an action), and the routes of
subsystems not built yet. The shapes are listed in
:mod:`baldur._control_api`."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from typing import Any

import baldur._bulkhead as _bulkhead
import baldur._core as _core
import baldur.audit as audit_trail
import baldur.dlq as dlq
import baldur.kill_switch as kill_switch
import baldur.leader as leader
from baldur._control_api_http import (
    BadRequest,
    Handler,
    Request,
    answer,
    not_enabled,
    not_found,
    ok,
)
from baldur.circuits import (
    circuit,
    circuits,
    force_close_circuit,
    force_open_circuit,
    reset_circuit,
)
from baldur.endpoints import Response
from baldur.exceptions import KillSwitchEngagedError

# -- breakers ---------------------------------------------------------------


def _breaker(name: str, snapshot: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": name, **snapshot}


def breakers(req: Request) -> Response:
    snapshots = circuits()
    return ok({"breakers": [_breaker(name, snapshots[name]) for name in sorted(snapshots)]})


def breaker(req: Request) -> Response:
    # This process's breaker, else the fleet's record (one another worker
    # created): a GET creates nothing, here or in Redis.
    name = req.params[0]
    snapshot = circuit(name)
    if snapshot is None:
        return not_found(name=name)
    return ok(_breaker(name, snapshot))


def _breaker_action(action: str) -> Handler:
    act = {
        "force_open": force_open_circuit,
        "force_close": force_close_circuit,
        "reset": reset_circuit,
    }[action]

    def handle(req: Request) -> Response:
        name = req.params[0]
        reason = req.text("reason")
        try:
            act(name, override=req.flag("override"), reason=reason, actor=req.actor)
        except KillSwitchEngagedError as refused:
            return answer(409, {"error": "kill_switch_engaged", "detail": str(refused)})
        snapshot: Mapping[str, Any] = circuits().get(name) or {}
        return ok({**_breaker(name, snapshot), "action": action, "actor": req.actor})

    return handle


force_open = _breaker_action("force_open")
force_close = _breaker_action("force_close")
reset = _breaker_action("reset")

# -- dead-letter queue ------------------------------------------------------

#: The states a listing filters on.
_STATES = tuple(_core.DLQ_STATES)


def dlq_list(req: Request) -> Response:
    state = req.query_text("state")
    if state is not None and state not in _STATES:
        raise BadRequest("state", state, "one of " + ", ".join(_STATES))
    page = dlq.list(
        domain=req.query_text("domain"),
        state=state,
        failure_type=req.query_text("failure_type"),
        limit=req.query_limit("limit", 100),
        cursor=req.query_text("cursor"),
    )
    return ok(
        {
            "entries": list(page),
            "next_cursor": page.next_cursor,
            "complete": page.complete,
            "unavailable": page.unavailable,
        }
    )


def dlq_stats(req: Request) -> Response:
    return ok(dlq.stats())


def dlq_entry(req: Request) -> Response:
    entry = dlq.get(req.params[0])
    return not_found(id=req.params[0]) if entry is None else ok(entry)


def _replay_answer(outcome: Mapping[str, Any]) -> dict[str, Any]:
    """The contract's replay shape, whichever path the replay took: an entry
    a replay cannot hold answers only ``replayed`` and ``state``."""
    replayed = bool(outcome.get("replayed"))
    state = outcome.get("state")
    return {
        "id": outcome.get("id"),
        "replayed": replayed,
        "ok": bool(outcome.get("ok", False)),
        "state": state,
        "error": outcome.get("error"),
        # Settled before this replay came (another replayer finished it).
        "already_done": not replayed and state in (None, _core.DLQ_DONE),
    }


def dlq_replay(req: Request) -> Response:
    entry_id = req.params[0]
    entry = dlq.get(entry_id)
    if entry is None:
        return not_found(id=entry_id)
    # The server's thread runs no event loop: an async function gets its own.
    if dlq._is_async(entry):
        outcome = asyncio.run(dlq.areplay(entry_id, actor=req.actor))
    else:
        outcome = dlq.replay(entry_id, actor=req.actor)
    return ok(_replay_answer(outcome))


def dlq_replay_batch(req: Request) -> Response:
    domain, failure_type = req.text("domain"), req.text("failure_type")
    if domain is None and failure_type is None:
        raise BadRequest("domain", None, "a zone name (or give failure_type)")
    outcomes = [
        _replay_answer(outcome)
        for outcome in dlq.replay_batch(domain, failure_type, req.body_limit(100), actor=req.actor)
    ]
    return ok(
        {
            "outcomes": outcomes,
            "replayed": sum(1 for outcome in outcomes if outcome["ok"]),
            "failed": sum(1 for outcome in outcomes if outcome["replayed"] and not outcome["ok"]),
        }
    )


def dlq_redrive(req: Request) -> Response:
    entry_id = req.params[0]
    entry = dlq.get(entry_id)
    if entry is None:
        return not_found(id=entry_id)
    if not dlq.redrive(entry_id, actor=req.actor):
        return answer(
            409,
            {
                "error": "conflict",
                "detail": f"entry {entry_id} is {entry['state']}: only needs_review is redriven",
                "state": entry["state"],
            },
        )
    return ok({"id": entry_id, "redriven": True, "state": _core.DLQ_PENDING})


def dlq_purge(req: Request) -> Response:
    domain, state = req.text("domain"), req.text("state")
    if state is not None and state not in _STATES:
        raise BadRequest("state", state, "one of " + ", ".join(_STATES))
    if domain is None and state is None:
        raise BadRequest("domain", None, "a zone name (or give state)")
    # The gate asked the operator for CONFIRM before this ran.
    purged = dlq.purge(domain, state, confirm=True, actor=req.actor)
    return ok({"purged": purged, "domain": domain, "state": state})


# -- kill switch ------------------------------------------------------------


def bulkheads(req: Request) -> Response:
    """Every compartment, by name: ``baldur.compartments()``."""
    rows = [
        {
            "name": name,
            "active": snap.active,
            "waiting": snap.waiting,
            "capacity": snap.capacity,
            "max_waiting": snap.max_waiting,
            "wait_timeout": snap.wait_timeout,
            "rejected": snap.rejected,
        }
        for name, snap in sorted(_bulkhead.compartments().items())
    ]
    return ok({"bulkheads": rows, "enabled": True})


def kill_switch_status(req: Request) -> Response:
    status = kill_switch.kill_switch_status()
    return ok(
        {
            "enabled": status.enabled,
            "reason": status.reason,
            "actor": status.actor,
            "disabled_at": status.disabled_at,
        }
    )


def kill_switch_disable(req: Request) -> Response:
    reason = req.text("reason", required=True)
    return _switch(lambda: kill_switch.disable(reason=str(reason), actor=req.actor), req)


def kill_switch_enable(req: Request) -> Response:
    return _switch(lambda: kill_switch.enable(actor=req.actor), req)


def _switch(flip: Callable[[], None], req: Request) -> Response:
    try:
        flip()
    except ConnectionError:
        # Redis did not take the record; the local change stands, and the
        # operator must know the fleet did not follow (the error's text
        # stays out: it may name the server).
        status = kill_switch_status(req).payload
        return answer(
            503,
            {
                **status,
                "error": "unavailable",
                "detail": "changed in this process only: Redis did not take the record, "
                "other workers still follow the old state",
            },
        )
    return kill_switch_status(req)


# -- leader ------------------------------------------------------------------


def leader_status(req: Request) -> Response:
    status = leader.status()
    return ok(status._asdict())


# -- subsystems not built yet -----------------------------------------------


def empty_list(key: str, *, validate: Callable[[Request], object] | None = None) -> Handler:
    """A list-like route of a subsystem not running: an empty list under
    ``key``, and ``"enabled": false``."""

    def handle(req: Request) -> Response:
        if validate is not None:
            validate(req)
        return ok({key: [], "enabled": False})

    return handle


def not_running(subsystem: str) -> Handler:
    def handle(req: Request) -> Response:
        return not_enabled(subsystem)

    return handle


def _report_date(req: Request) -> Response:
    day = req.params[0]
    if day != "today" and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", day):
        raise BadRequest("date", day, "YYYY-MM-DD or today")
    return not_enabled("reports")


report = _report_date
reports = empty_list("reports", validate=lambda req: req.query_limit("days", 7))


def audit(req: Request) -> Response:
    """The audit trail's records after ``after``, ascending."""
    limit, after = req.query_limit("limit", 100), req.query_after("after")
    if not _core.audit_enabled():
        return ok({"records": [], "enabled": False})
    records = [record._asdict() for record in audit_trail.list(limit, after)]
    return ok({"records": records, "enabled": True})


def audit_verify(req: Request) -> Response:
    """The chain walked: ``ok``, ``checked``, ``first_bad_seq``, ``problem``."""
    if not _core.audit_enabled():
        return not_enabled("audit")
    return ok({**audit_trail.verify()._asdict(), "enabled": True})
