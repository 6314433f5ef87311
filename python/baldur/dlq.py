"""``baldur.dlq``: the dead-letter queue. Calls protected with ``dlq=True``
that end without the function succeeding are recorded here, durably, and
replayed under the same protection.

>>> import baldur
>>> baldur.dlq.stats()["total"] >= 0
True
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from typing import Any

import baldur._async as _async
import baldur._audit as _audit
import baldur._bus as _bus
import baldur._config as _config
import baldur._core as _core
import baldur._dlq as _dlq
import baldur._dlq_codec as _dlq_codec
import baldur._dlq_registry as _dlq_registry
import baldur._events as _events
import baldur._validate as _validate
import baldur.kill_switch as _kill_switch
from baldur.exceptions import IdempotencyDuplicateError

__all__ = [
    "Entries",
    "aget",
    "alist",
    "apurge",
    "aredrive",
    "areplay",
    "areplay_batch",
    "astats",
    "get",
    "list",
    "purge",
    "redrive",
    "replay",
    "replay_batch",
    "stats",
]

_list = list
_log = logging.getLogger("baldur.replay")
_dlq_log = logging.getLogger("baldur.dlq")


class Entries(_list[dict[str, Any]]):
    """What :func:`list` returns: the entries, and whether that is all of
    them. ``complete`` is false while Redis cannot be reached: the entries
    are then only those the local queue holds, and ``unavailable`` says why.
    """

    def __init__(
        self,
        entries: _list[dict[str, Any]],
        unavailable: str | None,
        next_cursor: str | None = None,
    ) -> None:
        super().__init__(entries)
        #: Why Redis's entries are missing, or ``None``.
        self.unavailable = unavailable
        #: Hand it to :func:`list` as ``cursor=`` for the next page; ``None``
        #: when this page is the last.
        self.next_cursor = next_cursor

    @property
    def complete(self) -> bool:
        """Whether every store answered."""
        return self.unavailable is None


# Each public function first calls _config.current(): the queue is
# configured on first use, as protected calls are, with or without init().


def list(
    domain: str | None = None,
    state: str | None = None,
    failure_type: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Entries:
    """One page of entries, oldest first: ``state`` is ``pending``,
    ``replaying`` or ``needs_review``; ``failure_type`` the exception's
    ``module.Name``. ``next_cursor`` on the answer fetches the next page
    (``None``: no more), so a queue of any size can be walked; every page is
    bounded work for the store (Redis is never blocked by a long scan).
    While Redis is unreachable the answer holds only the local queue's
    entries, says so (``complete`` is false) and logs a warning.

    >>> page = baldur.dlq.list(domain="charge-customer", limit=500)
    >>> while page.next_cursor is not None:
    ...     page = baldur.dlq.list(domain="charge-customer", cursor=page.next_cursor)
    """
    _config.current()
    _validate.optional_text("domain", domain, "a zone name")
    if cursor is not None and not isinstance(cursor, str):
        raise TypeError(f"cursor must be a str a listing returned, not {type(cursor).__name__}")
    entries, unavailable, next_cursor = _core.dlq_list(
        domain, state, failure_type, _validate.limit("limit", limit), cursor
    )
    if unavailable is not None:
        _events.emit(
            _dlq_log, logging.WARNING, "dlq.partial_answer", operation="list", error=unavailable
        )
    return Entries(entries, unavailable, next_cursor)


def get(entry_id: str) -> dict[str, Any] | None:
    """One entry, or ``None``. An entry kept in Redis while Redis is
    unreachable raises :class:`~baldur.exceptions.DeadLetterQueueUnavailableError`."""
    _config.current()
    return _core.dlq_get(_validate.entry_id(entry_id))


def replay(entry_id: str, *, reason: str | None = None, actor: str | None = None) -> dict[str, Any]:
    """Calls the entry's function with its recorded arguments, under the
    same protection. Success removes the entry; failure spends one replay,
    and an entry with none left moves to ``needs_review``. Only one replayer
    holds an entry at a time: one already held (or not replayable) is
    reported as not replayed.

    Only a function protected with ``dlq=True`` under the entry's zone name
    is called; an entry naming anything else (or, with
    ``BALDUR_DLQ_SIGNING_KEY``, one whose signature fails), and one whose
    function cannot be imported any more, goes to ``needs_review`` at once
    with the reason (an ERROR event). ``reason`` and ``actor`` (default
    ``user@host``) go into the audit trail."""
    outcome = _replay(entry_id)
    _record_replay(str(entry_id), [outcome], reason, actor)
    return outcome


def _replay(entry_id: str) -> dict[str, Any]:
    """:func:`replay` without its audit record (a batch records itself)."""
    _config.current()
    claimed = _core.dlq_claim(_validate.entry_id(entry_id))
    if claimed is None:
        current = get(entry_id)
        return {"id": entry_id, "replayed": False, "state": current and current["state"]}
    try:
        target = _dlq_registry.resolve(claimed)
        args, kwargs = _dlq_codec.decode(claimed["arguments"])
    except Exception as refused:
        return _refuse(claimed, refused)
    if target.is_async:
        _core.dlq_failed(str(entry_id), "an async function: use baldur.dlq.areplay")
        raise TypeError(f"entry {entry_id} protects an async function: use baldur.dlq.areplay")
    token = _dlq.replaying.set(True)
    try:
        result = _core.call_with_meta(target.zone, target.func, tuple(args), kwargs)
    finally:
        _dlq.replaying.reset(token)
    return _settle(entry_id, result.ok, result.error)


async def areplay(
    entry_id: str, *, reason: str | None = None, actor: str | None = None
) -> dict[str, Any]:
    """:func:`replay` for an entry whose function is ``async def``. The
    store's I/O runs on a worker thread, never on the event loop."""
    outcome = await _areplay(entry_id)
    await asyncio.to_thread(_record_replay, str(entry_id), [outcome], reason, actor)
    return outcome


async def _areplay(entry_id: str) -> dict[str, Any]:
    """:func:`areplay` without its audit record."""
    _config.current()
    claimed = await asyncio.to_thread(_core.dlq_claim, _validate.entry_id(entry_id))
    if claimed is None:
        current = await aget(entry_id)
        return {"id": entry_id, "replayed": False, "state": current and current["state"]}
    try:
        target = await asyncio.to_thread(_dlq_registry.resolve, claimed)
        args, kwargs = _dlq_codec.decode(claimed["arguments"])
    except Exception as refused:
        return await asyncio.to_thread(_refuse, claimed, refused)
    token = _dlq.replaying.set(True)
    try:
        if target.is_async:
            ok, error = await _replay_async(target, tuple(args), kwargs)
        else:
            result = await asyncio.to_thread(
                _core.call_with_meta, target.zone, target.func, tuple(args), kwargs
            )
            ok, error = result.ok, result.error
    except Exception as refused:
        ok, error = False, refused
    finally:
        _dlq.replaying.reset(token)
    return await asyncio.to_thread(_settle, entry_id, ok, error)


async def _replay_async(
    target: _dlq_registry.Replayable, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[bool, BaseException | None]:
    """The protected call, as the decorator makes it: the idempotency claim
    (so work completed since is not done twice), the breaker, the attempts."""
    zone = target.zone
    pending: _core.PendingClaim | None = None
    if zone.idempotency is not None:
        claimed = _core.claim_for_async(zone.idempotency, args, kwargs)
        pending = await claimed if inspect.isawaitable(claimed) else claimed
    call = _core.AsyncCall(zone, target.func, args, kwargs, None, pending)
    try:
        ok, outcome = await _async.attempts(call, target.func, args, kwargs)
    finally:
        call.finished()
    return ok, None if ok else outcome


def replay_batch(
    domain: str | None = None,
    failure_type: str | None = None,
    limit: int = 100,
    *,
    reason: str | None = None,
    actor: str | None = None,
) -> _list[dict[str, Any]]:
    """Replays every pending replayable entry of a domain, or of a failure
    type, and every entry whose replayer died mid-replay (its claim is past
    the lease; one still held is reported as not replayed). One entry's
    trouble never ends the batch: it is reported in its outcome. The batch
    is one audit record (``reason``, ``actor`` as for :func:`replay`)."""
    outcomes = [_replay_one(entry) for entry in _waiting(domain, failure_type, limit)]
    _record_replay(_batch_target(domain, failure_type), outcomes, reason, actor)
    return outcomes


def replay_on_its_own(domain: str, limit: int) -> _list[dict[str, Any]]:
    """Baldur's own replay of a domain (the standing worker, the sweep on
    recovery): a batch recorded as an automated action when it replayed
    anything."""
    outcomes = [_replay_one(entry) for entry in _waiting(domain, None, limit)]
    if outcomes:
        _audit.automated("dlq.replay", domain, details=_replay_details(outcomes))
    return outcomes


def _record_replay(
    target: str, outcomes: _list[dict[str, Any]], reason: str | None, actor: str | None
) -> None:
    _audit.operator(
        "dlq.replay",
        target,
        actor=_operator(actor),
        reason=_validate.optional_text("reason", reason, "text saying why"),
        details=_replay_details(outcomes),
    )


def _replay_details(outcomes: _list[dict[str, Any]]) -> dict[str, object]:
    return {
        "entries": [str(outcome["id"]) for outcome in outcomes],
        "replayed": sum(1 for outcome in outcomes if outcome.get("ok")),
        "failed": sum(1 for outcome in outcomes if outcome.get("ok") is False),
    }


def _batch_target(domain: str | None, failure_type: str | None) -> str:
    return domain or (f"failure_type:{failure_type}" if failure_type else "*")


def _operator(actor: str | None) -> str:
    if actor is None:
        return _kill_switch._default_actor()
    return _validate.text("actor", actor, "a non-empty string naming who")


def _waiting(domain: str | None, failure_type: str | None, limit: int) -> _list[dict[str, Any]]:
    """Replayable entries that are pending, or that a replay holds or held
    (the claim decides)."""
    entries = list(domain, _core.DLQ_PENDING, failure_type, limit) + list(
        domain, _core.DLQ_REPLAYING, failure_type, limit
    )
    entries = [entry for entry in entries if entry["replayable"]]
    return sorted(entries, key=lambda entry: float(entry["created_at"]))[:limit]


def _is_async(entry: dict[str, Any]) -> bool:
    """Whether the entry's registered function is ``async def`` (an entry
    that resolves to nothing is refused by the replay itself)."""
    try:
        return _dlq_registry.resolve(entry).is_async
    except Exception:
        return False


def _replay_one(entry: dict[str, Any]) -> dict[str, Any]:
    """Replays one entry of a batch or a sweep (an ``async def`` one on an
    event loop of its own), reporting any trouble instead of raising it."""
    try:
        if _is_async(entry):
            return asyncio.run(_areplay(entry["id"]))
        return _replay(entry["id"])
    except Exception as trouble:  # one entry's trouble must not end the batch
        detail = f"{type(trouble).__name__}: {trouble}"
        _events.emit(
            _log,
            logging.ERROR,
            "replay.entry_error",
            zone=entry.get("zone"),
            id=entry["id"],
            error=detail,
        )
        return {"id": entry["id"], "replayed": False, "ok": False, "error": detail}


def sweep_in_background(domain: str) -> threading.Thread:
    """Replays a domain's pending entries on a thread of its own: called when
    the domain's breaker closes again after probing (possibly on a thread
    that must not wait for a store, hence the thread even for an empty
    queue). Returns the thread."""
    sweeper = threading.Thread(target=_sweep, args=(domain,), name="baldur-dlq-sweep", daemon=True)
    sweeper.start()
    return sweeper


def _sweep(domain: str) -> None:
    try:
        pending = _waiting(domain, None, 1000)
    except OSError as unreadable:
        _events.emit(
            _log, logging.ERROR, "replay.sweep_error", domain=domain, error=str(unreadable)
        )
        return
    if not pending:
        return
    _events.emit(_log, logging.INFO, "replay.sweep_started", domain=domain)
    outcomes = [_replay_one(entry) for entry in pending]
    _audit.automated("dlq.replay", domain, details=_replay_details(outcomes))
    replayed = sum(1 for outcome in outcomes if outcome.get("ok"))
    failed = sum(1 for outcome in outcomes if outcome.get("ok") is False)
    _events.emit(
        _log,
        logging.INFO,
        "replay.sweep_completed",
        domain=domain,
        replayed=replayed,
        failed=failed,
    )


def redrive(
    entry_id: str,
    budget: int = _dlq.DEFAULT_REPLAY_BUDGET,
    *,
    reason: str | None = None,
    actor: str | None = None,
) -> bool:
    """Grants a ``needs_review`` entry a fresh replay budget (after the root
    cause is fixed). False if the entry is not in ``needs_review``. A
    redrive is an audit record (``reason``, ``actor`` as for :func:`replay`)."""
    _config.current()
    entry_id = _validate.entry_id(entry_id)
    budget = _validate.limit("budget", budget)
    reason = _validate.optional_text("reason", reason, "text saying why")
    who = _operator(actor)
    redriven = _core.dlq_redrive(entry_id, budget)
    if redriven:
        _audit.operator(
            "dlq.redrive", entry_id, actor=who, reason=reason, details={"budget": budget}
        )
    return redriven


def purge(
    domain: str | None = None,
    state: str | None = None,
    *,
    confirm: bool = False,
    reason: str | None = None,
    actor: str | None = None,
) -> int:
    """Deletes the matching entries: explicit (``confirm=True``), never
    implied. Returns how many. Refused while Redis is unreachable
    (:class:`~baldur.exceptions.DeadLetterQueueUnavailableError`). A purge
    is an audit record (``reason``, ``actor`` as for :func:`replay`)."""
    _config.current()
    if confirm is not True:
        raise ValueError("purge deletes entries for good: pass confirm=True")
    reason = _validate.optional_text("reason", reason, "text saying why")
    who = _operator(actor)
    purged = _core.dlq_purge(domain, state)
    details = {"state": state, "purged": purged}
    _audit.operator("dlq.purge", domain or "*", actor=who, reason=reason, details=details)
    return purged


def stats() -> dict[str, Any]:
    """Entries by state and domain; ``evicted`` and ``compressed``, every
    eviction the queue made to respect its caps (counted in the store, so by
    every process: the fleet's, with Redis); ``store`` (``sqlite``
    or ``redis``), ``local`` (entries in the local queue: with Redis, those
    waiting to be flushed there), ``unavailable`` (why Redis's counts are
    missing, or ``None``: then the counts are only the local queue's) and
    ``degraded`` (the queue's Redis connection is DEGRADED)."""
    _config.current()
    counts = _core.dlq_stats()
    if counts["unavailable"] is not None:
        _events.emit(
            _dlq_log,
            logging.WARNING,
            "dlq.partial_answer",
            operation="stats",
            error=counts["unavailable"],
        )
    return counts


def _refuse(entry: dict[str, Any], why: BaseException) -> dict[str, Any]:
    """An entry replay must not (or cannot) call: straight to needs_review,
    with the reason, and an ERROR event."""
    detail = str(why) if isinstance(why, _dlq_registry.ReplayRefused) else _describe(why)
    state = _core.dlq_failed(str(entry["id"]), detail, review=True)
    _announce_review(str(entry["id"]), state, detail)
    _events.emit(
        _log,
        logging.ERROR,
        "replay.entry_refused",
        zone=entry["zone"],
        id=entry["id"],
        function=entry["function"],
        error=detail,
    )
    return {"id": entry["id"], "replayed": False, "ok": False, "state": state, "error": detail}


def _settle(entry_id: str, ok: bool, error: BaseException | None) -> dict[str, Any]:
    if ok or (isinstance(error, IdempotencyDuplicateError) and error.state == "completed"):
        # A completed idempotency key: the work was done since; done it is.
        _core.dlq_succeeded(str(entry_id))
        return {"id": entry_id, "replayed": True, "ok": True, "state": _core.DLQ_DONE}
    detail = _describe(error)
    state = _core.dlq_failed(str(entry_id), detail)
    _announce_review(str(entry_id), state, detail)
    return {"id": entry_id, "replayed": True, "ok": False, "state": state, "error": detail}


def _announce_review(entry_id: str, state: str, detail: str) -> None:
    if state == _core.DLQ_NEEDS_REVIEW:
        _bus.publish(_bus.DLQ_NEEDS_REVIEW, entry_id=entry_id, detail=detail)


def _describe(error: BaseException | None) -> str:
    try:
        return f"{type(error).__name__}: {error}"
    except Exception:  # a __str__ that raises
        return f"{type(error).__name__}: <str() failed>"


# The async forms: the store's I/O (a disk write, a Redis round trip) runs on
# a worker thread, so an event loop never waits on it.


async def alist(
    domain: str | None = None,
    state: str | None = None,
    failure_type: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Entries:
    """:func:`list`, awaited."""
    return await asyncio.to_thread(list, domain, state, failure_type, limit, cursor)


async def aget(entry_id: str) -> dict[str, Any] | None:
    """:func:`get`, awaited."""
    return await asyncio.to_thread(get, entry_id)


async def areplay_batch(
    domain: str | None = None,
    failure_type: str | None = None,
    limit: int = 100,
    *,
    reason: str | None = None,
    actor: str | None = None,
) -> _list[dict[str, Any]]:
    """:func:`replay_batch`, awaited: ``async def`` functions are replayed on
    the caller's loop, the others on a worker thread, one entry at a time."""
    outcomes = []
    for entry in await asyncio.to_thread(_waiting, domain, failure_type, limit):
        try:
            if await asyncio.to_thread(_is_async, entry):
                outcomes.append(await _areplay(entry["id"]))
            else:
                outcomes.append(await asyncio.to_thread(_replay_one, entry))
        except Exception as trouble:  # one entry's trouble must not end the batch
            detail = _describe(trouble)
            _events.emit(_log, logging.ERROR, "replay.entry_error", id=entry["id"], error=detail)
            outcomes.append({"id": entry["id"], "replayed": False, "ok": False, "error": detail})
    target = _batch_target(domain, failure_type)
    await asyncio.to_thread(_record_replay, target, outcomes, reason, actor)
    return outcomes


async def aredrive(
    entry_id: str,
    budget: int = _dlq.DEFAULT_REPLAY_BUDGET,
    *,
    reason: str | None = None,
    actor: str | None = None,
) -> bool:
    """:func:`redrive`, awaited."""
    return await asyncio.to_thread(redrive, entry_id, budget, reason=reason, actor=actor)


async def apurge(
    domain: str | None = None,
    state: str | None = None,
    *,
    confirm: bool = False,
    reason: str | None = None,
    actor: str | None = None,
) -> int:
    """:func:`purge`, awaited."""
    return await asyncio.to_thread(
        purge, domain, state, confirm=confirm, reason=reason, actor=actor
    )


async def astats() -> dict[str, Any]:
    """:func:`stats`, awaited."""
    return await asyncio.to_thread(stats)
