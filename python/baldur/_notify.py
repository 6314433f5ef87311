"""``baldur.notify()``: one notification through the fatigue guards, and
the worker that posts what they accept, off the caller's path.

The guards (disabled, routing, budgets, the cooldown per key shared by
the fleet, burst escalation) and the outbox (what is due, when a failed
post is tried again) are the core's (``core::process::notify``). What is
left here: the arguments checked, the channels built from the settings,
and one daemon thread per process that posts what the outbox says is due
and tells it how each post ended. It starts with the first notification
accepted, and again in a forked child.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import baldur._config as _config
import baldur._core as _core
import baldur._events as _events
from baldur._notify_channels import POST_TIMEOUT_SECONDS, Channel, Message, Posted, configured
from baldur._settings import Settings
from baldur.exceptions import ConfigError

_log = logging.getLogger("baldur.notify")

#: The priorities, most urgent first (``CRITICAL`` ... ``INFO``).
PRIORITIES: tuple[str, ...] = _core.NOTIFY_PRIORITIES
#: The worker's longest sleep while a delivery waits: the outbox's clock
#: may be the manual one of ``baldur.testing``, which moves without it.
_POLL_SECONDS = 0.05
#: The worker's name to the watchdog, which watches it while it has work:
#: stalled when it has not beaten for three posts' timeouts.
LOOP = "notifier"
#: How long the exit waits for what is due to be posted.
_EXIT_FLUSH_SECONDS = 2.0


@dataclasses.dataclass(frozen=True)
class NotifyResult:
    """What became of one notification.

    ``sent``: accepted for delivery on at least one channel. ``reason``:
    why not (``"disabled"``, ``"rate_limited"``, ``"cooldown"``,
    ``"log_only"``), else ``None``. ``channels``: where it goes.
    ``priority``: after escalation when sent, as asked when suppressed.
    """

    sent: bool
    reason: str | None
    channels: list[str]
    priority: str


_channels: dict[str, Channel] = {}
_lock = threading.Lock()
_wake = threading.Event()
_worker: threading.Thread | None = None
#: Held while the worker handles what Baldur raised by itself.
_handling = threading.Lock()
#: Notifications handed over by notify_later(), raised by the worker.
_later: deque[tuple[str, str, str, str, dict[str, Any]]] = deque(maxlen=1000)


def apply(settings: Settings) -> None:
    """The settings' channels and guards, in force from now on."""
    global _channels
    channels = configured(settings.slack_webhook_url, settings.webhook_url)
    _core.configure_notifications(
        settings.notifications_enabled,
        settings.notify_rate_per_minute,
        settings.notify_rate_per_hour,
        settings.notify_cooldown_seconds,
        settings.notify_burst_threshold,
        "slack" in channels,
        "webhook" in channels,
        settings.notify_info_channel,
    )
    _channels = channels


def notify(
    title: str,
    message: str = "",
    *,
    priority: str = "MEDIUM",
    key: str | None = None,
    fields: Mapping[str, Any] | None = None,
) -> NotifyResult:
    """Sends a notification to the channels its priority routes to, unless
    a fatigue guard suppresses it. Returns at once: delivery happens on a
    background thread, retried with backoff (a channel's 429
    ``Retry-After`` honoured).

    >>> import baldur
    >>> baldur.notify("payments degraded", "p99 over 2 s", priority="LOW").reason
    'log_only'

    ``key`` (default: the title) names the alert for its cooldown: one
    delivery per key per ``BALDUR_NOTIFY_COOLDOWN_SECONDS`` across the
    fleet when Redis is configured. ``fields`` are extra name/value pairs
    shown with the message. A bad argument raises
    :class:`~baldur.exceptions.ConfigError`.
    """
    if not isinstance(title, str) or not title.strip():
        raise ConfigError("title", title, "a non-empty string")
    if not isinstance(message, str):
        raise ConfigError("message", message, "a string")
    if priority not in PRIORITIES:
        raise ConfigError("priority", priority, " | ".join(PRIORITIES))
    if key is not None and (not isinstance(key, str) or not key):
        raise ConfigError("key", key, "a non-empty string, or None for the title")
    if fields is not None and not isinstance(fields, Mapping):
        raise ConfigError("fields", fields, "a mapping of names to values, or None")
    _config.current()  # the settings are applied before the first notification
    key = title if key is None else key
    body = Message(title, message, key, dict(fields or {})).to_json()
    sent, reason, channels, final = _core.notify_submit(key, priority, body)
    result = NotifyResult(sent, reason, list(channels), final)
    if sent:
        _ensure_worker()
        _wake.set()
        _events.emit(
            _log,
            logging.DEBUG,
            "notify.notification_accepted",
            key=key,
            priority=final,
            channels=channels,
        )
    elif reason == "log_only":
        _events.emit(
            _log,
            logging.INFO,
            "notify.notification_logged",
            title=title,
            text=message,
            priority=final,
        )
    else:
        _events.emit(_log, logging.DEBUG, "notify.notification_suppressed", key=key, reason=reason)
    return result


def notify_later(
    title: str, message: str, *, priority: str, key: str, fields: Mapping[str, Any]
) -> None:
    """:func:`notify` on the worker's thread: for what Baldur raises by
    itself from a thread that must not wait (a protected call whose breaker
    just opened), since the fleet's cooldown asks Redis."""
    _later.append((title, message, priority, key, dict(fields)))
    _ensure_worker()
    _wake.set()


def counts() -> dict[str, dict[str, int]]:
    """``{"suppressed": {reason: n}, "delivered": {channel: n}, "failed":
    {reason: n}}`` since the process started."""
    return _core.notify_counts()


def flush(timeout: float) -> bool:
    """Waits up to ``timeout`` seconds for every accepted notification to
    be posted or given up: whether it was."""
    deadline = time.monotonic() + timeout
    while _later or not _core.notify_idle():
        if time.monotonic() >= deadline:
            return False
        _wake.set()
        time.sleep(_POLL_SECONDS)
    return True


def _ensure_worker() -> None:
    global _worker
    with _lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_run, name="baldur-notify", daemon=True)
            _worker.start()


def _run() -> None:
    watched = False
    while True:
        try:
            with _handling:
                while _later:
                    title, message, priority, key, fields = _later.popleft()
                    notify(title, message, priority=priority, key=key, fields=fields)
            for delivery in _core.notify_take_due():
                _deliver(delivery)
            wait = _core.notify_next_due()
        except Exception:  # the worker must outlive any one failure
            _log.exception("notify.worker_failed")
            wait = _POLL_SECONDS
        watched = _heartbeat(watched, busy=wait is not None or bool(_later))
        # Idle: asleep until the next notification wakes it.
        _wake.wait(None if wait is None else min(wait, _POLL_SECONDS))
        _wake.clear()


def _heartbeat(watched: bool, busy: bool) -> bool:
    """Beats while there is work; an idle worker, asleep on purpose, is
    not watched. Answers whether it is watched now."""
    if busy and not watched:
        _core.watchdog_watch(LOOP, POST_TIMEOUT_SECONDS)
    elif not busy and watched:
        _core.watchdog_forget(LOOP)
    if busy:
        _core.watchdog_beat(LOOP)
    return busy


def _deliver(delivery: tuple[int, str, str, str, int]) -> None:
    _ident, name, priority, body, attempt = delivery
    channel = _channels.get(name)
    # A channel reconfigured away has no one to answer.
    posted = Posted(None) if channel is None else channel.post(Message.from_json(body), priority)
    settled = _core.notify_settle(delivery, posted.status, posted.retry_after)
    _core.watchdog_beat(LOOP)
    if settled != "delivered":
        _events.emit(
            _log,
            logging.ERROR if settled == "gave_up" else logging.WARNING,
            "notify.delivery_failed",
            channel=name,
            status=posted.status,
            attempt=attempt,
            then=settled,
        )


def forget_pending(timeout: float) -> None:
    """Drops what Baldur raised by itself and the worker has not handled
    yet, and waits (up to ``timeout``) for the one it is handling: a test's
    reset, so that one test's alerts are never logged during the next."""
    _later.clear()
    if _handling.acquire(timeout=timeout):
        _handling.release()


def _after_fork_in_child() -> None:
    # The parent's worker is gone and its locks may be held forever.
    global _worker, _lock, _wake, _handling
    _core.notify_after_fork()
    _later.clear()
    _worker = None
    _lock = threading.Lock()
    _wake = threading.Event()
    _handling = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(lambda: _worker is not None and flush(_EXIT_FLUSH_SECONDS))
