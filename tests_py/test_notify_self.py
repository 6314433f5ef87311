"""What Baldur notifies on by itself: each event the contract lists, at its
priority, naming its subject, under a stable key (a repeat collapses)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import baldur
import baldur._core as _core
import baldur._events as _events
import baldur._notify as _notify
import baldur._self_alerts as _self_alerts
from helpers import FastBreaker, eventually, trip
from notify_receiver import Receiver

HOOK = "/hook/SELFSECRET"


@pytest.fixture
def receiver(configure: Callable[..., None]) -> Iterator[Receiver]:
    """Every priority on the webhook, INFO included."""
    server = Receiver()
    _core.notify_clear()
    configure(webhook_url=server.url(HOOK), notify_info_channel="webhook")
    yield server
    _notify.flush(2.0)
    _core.notify_clear()
    server.close()


def posted(receiver: Receiver, count: int) -> list[dict[str, Any]]:
    eventually(lambda: len(receiver.posts(HOOK)) >= count)
    assert _notify.flush(5.0)
    return receiver.posts(HOOK)


def test_a_breaker_that_opens_is_a_medium_notification_once(
    receiver: Receiver, fast_breaker: FastBreaker, configure: Callable[..., None]
) -> None:
    configure(webhook_url=receiver.url(HOOK), slack_webhook_url=receiver.url("/slack/X"))
    trip("payments", fast_breaker)
    baldur.reset_circuit("payments")
    trip("payments", fast_breaker)  # again within the cooldown: collapsed
    assert posted(receiver, 0) == []  # MEDIUM: Slack only
    [slack] = receiver.posts("/slack/X")
    assert slack["text"].startswith("*[MEDIUM] Circuit breaker 'payments' opened*")
    assert "cause" in slack["text"] and "failures in" in slack["text"]


def test_the_kill_switch_flipped_is_high(receiver: Receiver) -> None:
    baldur.disable(reason="incident 42", actor="alice")
    baldur.enable(actor="alice")
    posts = posted(receiver, 2)
    assert [(p["title"], p["priority"]) for p in posts] == [
        ("Baldur disabled by the kill switch", "HIGH"),
        ("Baldur enabled by the kill switch", "HIGH"),
    ]
    assert posts[0]["fields"] == {"actor": "alice", "reason": "incident 42"}
    assert posts[0]["key"] == "baldur:kill_switch:disabled"


def test_a_stalled_loop_is_critical(receiver: Receiver) -> None:
    _core.watchdog_watch("notify-drill", 0.05)
    try:
        [post] = posted(receiver, 1)
    finally:
        _core.watchdog_forget("notify-drill")
    assert (post["priority"], post["key"]) == ("CRITICAL", "baldur:loop_stalled:notify-drill")
    assert post["fields"]["loop"] == "notify-drill" and post["fields"]["reason"]


def test_a_store_degraded_for_long_is_high_and_a_short_spell_is_not(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_self_alerts, "DEGRADED_ALERT_SECONDS", 0.2)
    _events.storage_event("storage.degraded_entered", "redis:short", "connection refused")
    _events.storage_event("storage.degraded_exited", "redis:short", "answering again")
    _events.storage_event("storage.degraded_entered", "redis:breakers", "connection refused")
    [post] = posted(receiver, 1)
    assert post["title"] == "Store redis:breakers DEGRADED for over 0.2 s"
    assert (post["priority"], post["fields"]["reason"]) == ("HIGH", "connection refused")
    _events.storage_event("storage.degraded_exited", "redis:breakers", "answering again")


def test_a_dead_letter_needing_review_is_high(receiver: Receiver) -> None:
    baldur.init(cb_failure_threshold=1000, webhook_url=receiver.url(HOOK))
    recorded = baldur.protect_with_meta("ledger", broken_job, dlq=True)
    entry_id = recorded.dlq_id
    assert entry_id is not None
    while baldur.dlq.replay(entry_id)["state"] != _core.DLQ_NEEDS_REVIEW:
        pass
    [post] = posted(receiver, 1)
    assert post["priority"] == "HIGH" and entry_id in post["title"]
    assert post["fields"]["entry"] == entry_id and "still broken" in post["fields"]["reason"]


@baldur.protected("ledger", dlq=True)
def broken_job() -> None:
    raise RuntimeError("still broken")
