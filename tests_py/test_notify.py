"""``baldur.notify()`` against a local HTTP server standing in for Slack
and a JSON webhook: routing, the fatigue guards, delivery with retries,
and what the settings refuse. The guards' arithmetic is tested in Rust
(``core::notify::tests``) on a manual clock; here, what a user sees."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

import baldur
import baldur._core as _core
import baldur._notify as _notify
from baldur.exceptions import ConfigError
from helpers import eventually
from notify_receiver import Receiver

SLACK = "/services/T000/B000/SLACKSECRET"
HOOK = "/hook/HOOKSECRET"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    _core.notify_clear()
    yield server
    _notify.flush(2.0)
    _core.notify_clear()
    server.close()


@pytest.fixture
def channels(configure: Callable[..., None], receiver: Receiver) -> Callable[..., None]:
    """Both channels on the receiver, plus any other setting."""

    def apply(**overrides: object) -> None:
        configure(
            slack_webhook_url=receiver.url(SLACK), webhook_url=receiver.url(HOOK), **overrides
        )

    apply()
    return apply


def watched_loops() -> set[str]:
    return {loop["name"] for loop in _core.watchdog_status()}


def delivered() -> None:
    assert _notify.flush(5.0), "the outbox never emptied"


def test_each_priority_goes_where_the_contract_routes_it(
    channels: Callable[..., None], receiver: Receiver
) -> None:
    results = {p: baldur.notify(f"{p} alert", priority=p) for p in _core.NOTIFY_PRIORITIES}
    delivered()
    assert results["CRITICAL"] == baldur.NotifyResult(True, None, ["slack", "webhook"], "CRITICAL")
    assert results["HIGH"].channels == ["slack", "webhook"]
    assert results["MEDIUM"].channels == results["LOW"].channels == ["slack"]
    assert results["INFO"] == baldur.NotifyResult(False, "log_only", [], "INFO")
    slack = [post["text"].splitlines()[0] for post in receiver.posts(SLACK)]
    assert sorted(slack) == sorted(
        f"*[{p}] {p} alert*" for p in ("CRITICAL", "HIGH", "MEDIUM", "LOW")
    )
    assert sorted(post["priority"] for post in receiver.posts(HOOK)) == ["CRITICAL", "HIGH"]


def test_info_goes_to_the_channel_named_for_it(
    channels: Callable[..., None], receiver: Receiver
) -> None:
    channels(notify_info_channel="webhook")
    result = baldur.notify("deploy done", "v2 is live", priority="INFO", fields={"build": 42})
    delivered()
    assert result.channels == ["webhook"]
    [post] = receiver.posts(HOOK)
    assert post == {
        "source": "baldur",
        "title": "deploy done",
        "message": "v2 is live",
        "priority": "INFO",
        "key": "deploy done",
        "fields": {"build": 42},
    }


def test_without_a_channel_a_notification_is_logged_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="baldur.notify"):
        result = baldur.notify("disk 91% full", priority="CRITICAL")
    assert result == baldur.NotifyResult(False, "log_only", [], "CRITICAL")
    assert "notify.notification_logged" in caplog.text and "disk 91% full" in caplog.text


def test_turned_off_nothing_is_sent(
    channels: Callable[..., None], receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALDUR_NOTIFICATIONS_ENABLED", "off")
    channels()
    assert baldur.notify("x", priority="CRITICAL").reason == "disabled"
    delivered()
    assert receiver.posts(SLACK) == receiver.posts(HOOK) == []


def test_a_429_then_200_is_delivered_once(
    channels: Callable[..., None], receiver: Receiver, testing_mode: None
) -> None:
    receiver.reply(HOOK, 429, Retry_After="30")
    assert baldur.notify("db down", priority="HIGH").sent
    eventually(lambda: len(receiver.posts(HOOK)) == 1)
    baldur.testing.advance(29)
    eventually(lambda: len(receiver.posts(SLACK)) == 1)
    assert len(receiver.posts(HOOK)) == 1, "retried before the Retry-After"
    baldur.testing.advance(1)
    delivered()
    assert len(receiver.posts(HOOK)) == 2  # the refused one and the one taken
    counts = _notify.counts()
    assert counts["delivered"] == {"slack": 1, "webhook": 1}
    assert counts["failed"]["throttled"] == 1 and counts["failed"]["gave_up"] == 0


def test_a_failing_channel_is_retried_with_backoff_then_given_up(
    channels: Callable[..., None], receiver: Receiver, testing_mode: None
) -> None:
    for _ in range(4):
        receiver.reply(SLACK, 503)
    baldur.notify("queue stuck", priority="LOW")
    for attempt, backoff in enumerate((1, 2, 4), start=1):
        eventually(lambda attempt=attempt: len(receiver.posts(SLACK)) == attempt)  # type: ignore[misc]
        baldur.testing.advance(backoff)
    delivered()
    assert len(receiver.posts(SLACK)) == 4
    failed = _notify.counts()["failed"]
    assert failed["http_error"] == 4 and failed["gave_up"] == 1


def test_the_budget_refuses_all_but_a_critical_which_waits(
    channels: Callable[..., None], receiver: Receiver, testing_mode: None
) -> None:
    channels(notify_rate_per_minute=2)
    assert [baldur.notify(f"alert {i}").sent for i in range(3)] == [True, True, False]
    assert baldur.notify("alert 3").reason == "rate_limited"
    waiting = baldur.notify("everything is down", priority="CRITICAL")
    assert waiting == baldur.NotifyResult(True, None, ["slack", "webhook"], "CRITICAL")
    eventually(lambda: len(receiver.posts(SLACK)) == 2)
    assert receiver.posts(HOOK) == []  # waits for the minute to pass
    eventually(lambda: _notify.LOOP in watched_loops())  # a worker with work is watched
    baldur.testing.advance(60)
    delivered()
    assert len(receiver.posts(HOOK)) == 1
    eventually(lambda: _notify.LOOP not in watched_loops())  # idle on purpose
    assert _notify.counts()["suppressed"]["rate_limited"] == 2


def test_repeats_collapse_by_key_and_a_burst_escalates_once(
    channels: Callable[..., None], receiver: Receiver, testing_mode: None
) -> None:
    channels(notify_burst_threshold=3, notify_cooldown_seconds=300)
    results = [baldur.notify("cache down", priority="MEDIUM") for _ in range(10)]
    assert [(r.sent, r.priority) for r in results if r.sent] == [(True, "MEDIUM"), (True, "HIGH")]
    assert results[3].channels == ["slack", "webhook"]  # the third repeat, one level up
    assert {r.reason for r in results if not r.sent} == {"cooldown"}
    assert all(r.priority == "MEDIUM" for r in results if not r.sent)
    other = baldur.notify("cache down", priority="MEDIUM", key="cache down (eu)")
    assert other.sent
    baldur.testing.advance(300)
    assert baldur.notify("cache down", priority="MEDIUM").sent
    delivered()
    assert len(receiver.posts(SLACK)) == 4 and len(receiver.posts(HOOK)) == 1
    assert _notify.counts()["suppressed"]["cooldown"] == 8


def test_metrics_count_suppressions_and_failures(
    channels: Callable[..., None], receiver: Receiver
) -> None:
    receiver.reply(SLACK, 404)  # a revoked webhook: not retried
    baldur.notify("a")
    baldur.notify("a")
    delivered()
    snapshot = baldur.metrics_snapshot()["notifications"]
    assert snapshot["suppressed"]["cooldown"] == 1
    assert snapshot["failed"]["http_error"] == 1 and snapshot["failed"]["gave_up"] == 1


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("BALDUR_SLACK_WEBHOOK_URL", "ftp://hooks.slack.com/services/T/B/TOPSECRET", "http"),
        ("BALDUR_WEBHOOK_URL", "hooks.example.com/TOPSECRET", "http"),
        ("BALDUR_NOTIFY_INFO_CHANNEL", "email", "slack | webhook"),
        ("BALDUR_NOTIFY_RATE_PER_MINUTE", "0", "integer"),
        ("BALDUR_NOTIFY_RATE_PER_HOUR", "many", "integer"),
        ("BALDUR_NOTIFY_COOLDOWN_SECONDS", "-1", "seconds"),
        ("BALDUR_NOTIFY_BURST_THRESHOLD", "0", "integer"),
        ("BALDUR_NOTIFICATIONS_ENABLED", "maybe", "true/false"),
    ],
)
def test_bad_settings_name_the_key_and_hide_the_url(
    key: str, value: str, allowed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as raised:
        baldur.init()
    message = str(raised.value)
    assert key in message and allowed in message
    assert "TOPSECRET" not in message and "TOPSECRET" not in repr(raised.value.value)


def test_bad_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"CRITICAL \| HIGH"):
        baldur.notify("x", priority="urgent")
    with pytest.raises(ConfigError, match="title"):
        baldur.notify("")
    with pytest.raises(ConfigError, match="fields"):
        baldur.notify("x", fields=[1])  # type: ignore[arg-type]


def test_the_webhook_urls_never_show(
    configure: Callable[..., None], caplog: pytest.LogCaptureFixture, testing_mode: None
) -> None:
    # Nothing listens on port 9: every attempt fails, and is logged.
    configure(
        slack_webhook_url="http://127.0.0.1:9/services/T/B/TOPSECRET",
        webhook_url="https://user:pw@127.0.0.1:9/TOPSECRET",
    )
    with caplog.at_level(logging.DEBUG, logger="baldur"):
        baldur.notify("x", priority="HIGH")
        eventually(lambda: _notify.counts()["failed"]["unreachable"] == 2)
    shown = caplog.text + repr(_notify._channels) + repr(baldur._config.current())
    assert "notify.delivery_failed" in caplog.text
    assert "TOPSECRET" not in shown and ":pw@" not in shown
    assert "SlackChannel(url='http://127.0.0.1:9/***')" in shown
    _core.notify_clear()


def test_testing_reset_forgets_cooldowns_budgets_and_counts(
    channels: Callable[..., None], receiver: Receiver
) -> None:
    assert baldur.notify("flaky").sent
    assert baldur.notify("flaky").reason == "cooldown"
    delivered()
    baldur.testing.reset()
    assert _notify.counts()["suppressed"]["cooldown"] == 0
    assert baldur.notify("flaky").sent


def test_a_full_outbox_is_not_reported_as_sent(
    configure: Callable[..., None], receiver: Receiver, testing_mode: None
) -> None:
    # One a hour: every CRITICAL after the first waits, and the outbox fills.
    configure(webhook_url=receiver.url(HOOK), notify_rate_per_minute=1, notify_rate_per_hour=1)
    results = [baldur.notify(f"outage {i}", priority="CRITICAL") for i in range(1005)]
    assert all(r.sent for r in results[:1000])
    assert results[-1] == baldur.NotifyResult(False, "rate_limited", [], "CRITICAL")
    assert _notify.counts()["failed"]["queue_full"] >= 1
    _core.notify_clear()
