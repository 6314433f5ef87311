"""Where a notification is posted: one small class per channel behind one
interface (:class:`Channel`), so another (email, PagerDuty Events v2) is a
file, not a rewrite. A channel turns a notification into its body and
posts it once; retries, backoff and ``Retry-After`` are the outbox's
(``core::notify::outbox``), decided in the core.

A webhook URL is a secret (Slack's token is its path): a channel shows
it as its scheme and host only, in its ``repr`` and wherever it is named.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

import baldur._http as _http
from baldur._settings import redacted_webhook

#: Seconds one post may take before it counts as unanswered.
POST_TIMEOUT_SECONDS = 10.0


@dataclasses.dataclass(frozen=True)
class Message:
    """What ``baldur.notify()`` was given, as every channel reads it."""

    title: str
    message: str
    key: str
    fields: Mapping[str, Any]

    def to_json(self) -> str:
        """The message as the core's outbox carries it (opaque there)."""
        return json.dumps(dataclasses.asdict(self), default=str, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Message:
        return cls(**json.loads(text))


@dataclasses.dataclass(frozen=True)
class Posted:
    """How one post ended: the HTTP status (``None``: no answer) and the
    seconds a 429 asked to wait."""

    status: int | None
    retry_after: float | None = None


class Channel(Protocol):
    """One place notifications go."""

    #: The contract's name (``NotifyResult.channels``).
    name: ClassVar[str]

    def payload(self, message: Message, priority: str) -> dict[str, Any]:
        """The JSON body this channel expects."""
        ...

    def post(self, message: Message, priority: str) -> Posted:
        """Posts once; never raises for the channel's failure."""
        ...


class HttpChannel:
    """A channel that POSTs JSON to a URL (the secret it must not show)."""

    name: ClassVar[str] = ""

    def __init__(self, url: str, timeout: float = POST_TIMEOUT_SECONDS) -> None:
        self._url = url
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={redacted_webhook(self._url)!r})"

    def payload(self, message: Message, priority: str) -> dict[str, Any]:
        raise NotImplementedError

    def post(self, message: Message, priority: str) -> Posted:
        body = json.dumps(self.payload(message, priority), default=str).encode()
        request = urllib.request.Request(
            self._url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": "baldur"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                response.read()
                return Posted(int(response.status))
        except urllib.error.HTTPError as error:
            status = int(error.code)
            retry_after = _http.retry_after_seconds(error, status)
            error.close()
            return Posted(status, retry_after)
        except (OSError, ValueError):
            # Refused, reset, timed out, or a URL urllib cannot open: no
            # answer. The error itself is not kept: it may quote the URL.
            return Posted(None)


class SlackChannel(HttpChannel):
    """A Slack incoming webhook: ``text``, with the fields as lines."""

    name: ClassVar[str] = "slack"

    def payload(self, message: Message, priority: str) -> dict[str, Any]:
        lines = [f"*[{priority}] {message.title}*"]
        if message.message:
            lines.append(message.message)
        lines.extend(f"• {name}: {value}" for name, value in message.fields.items())
        return {"text": "\n".join(lines)}


class WebhookChannel(HttpChannel):
    """A generic JSON webhook: every part of the notification, by name."""

    name: ClassVar[str] = "webhook"

    def payload(self, message: Message, priority: str) -> dict[str, Any]:
        return {
            "source": "baldur",
            "title": message.title,
            "message": message.message,
            "priority": priority,
            "key": message.key,
            "fields": dict(message.fields),
        }


def configured(slack_url: str | None, webhook_url: str | None) -> dict[str, Channel]:
    """The channels the settings name, by name."""
    channels: dict[str, Channel] = {}
    if slack_url:
        channels[SlackChannel.name] = SlackChannel(slack_url)
    if webhook_url:
        channels[WebhookChannel.name] = WebhookChannel(webhook_url)
    return channels
