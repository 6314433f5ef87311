"""What every control-API handler shares: the request as the handlers see
it, the JSON answers (each with ``served_by``), and the refusals (400 naming
the field, the value and what is allowed; 404; 405)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import baldur._config as _config
import baldur._settings as _settings
import baldur._validate as _validate
from baldur.endpoints import JSON, Response

_NO_STORE = {"Cache-Control": "no-store"}
#: How much of a refused value a 400 repeats: enough to recognise it.
_ECHO_CHARS = 60


class BadRequest(Exception):
    """A request the API refuses with 400: ``detail`` names the field, the
    value and what is allowed."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        shown = repr(value)
        if len(shown) > _ECHO_CHARS:
            shown = shown[:_ECHO_CHARS] + "..."
        super().__init__(f"invalid {key}={shown}: allowed is {allowed}")


@dataclass(frozen=True)
class Request:
    """One request that passed the admin server's gate."""

    method: str
    #: The route's ``{...}`` segments, URL-decoded.
    params: tuple[str, ...]
    query: Mapping[str, str]
    body: bytes
    #: ``"admin"``, ``"viewer"``, or ``None`` on a public route.
    role: str | None
    #: ``role:name`` or the role, as the server composed it.
    actor: str | None

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (an empty body is ``{}``)."""
        if not self.body.strip():
            return {}
        try:
            document = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            # The body itself is never repeated: it may hold anything.
            raise BadRequest("body", "<not JSON>", "a JSON object") from None
        if not isinstance(document, dict):
            raise BadRequest("body", f"<a JSON {type(document).__name__}>", "a JSON object")
        return document

    def text(self, key: str, *, required: bool = False) -> str | None:
        """A body field that is text (``None`` when absent or null)."""
        value = self.json().get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise BadRequest(key, value, "a non-empty string" + ("" if required else ", or null"))
        return value.strip()

    def body_limit(self, default: int) -> int:
        """The body's ``limit``: a JSON integer from 1 to the house maximum."""
        value = self.json().get("limit", default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadRequest("limit", value, _validate.COUNT)
        return _limit("limit", value)

    def query_text(self, key: str) -> str | None:
        """A query parameter (blank is absent)."""
        return self.query.get(key) or None

    def query_limit(self, key: str, default: int) -> int:
        """A query parameter that is a positive whole number."""
        raw = self.query.get(key)
        if not raw:
            return default
        if not re.fullmatch(r"[0-9]{1,9}", raw):
            raise BadRequest(key, raw, _validate.COUNT)
        return _limit(key, int(raw))

    def query_after(self, key: str) -> int:
        """A query parameter that is a whole number, 0 or more (0 when absent)."""
        raw = self.query.get(key)
        if not raw:
            return 0
        if not re.fullmatch(r"[0-9]{1,18}", raw):
            raise BadRequest(key, raw, "a whole number >= 0")
        return int(raw)

    def flag(self, key: str) -> bool:
        """A body field that is a JSON boolean (absent: false)."""
        value = self.json().get(key, False)
        if not isinstance(value, bool):
            raise BadRequest(key, value, "true or false")
        return value


#: A route's handler.
Handler = Callable[[Request], Response]


def _limit(key: str, value: int) -> int:
    if not 1 <= value <= _validate.MAX_COUNT:
        raise BadRequest(key, value, _validate.COUNT)
    return value


def served_by() -> dict[str, object]:
    """Which process answered, and whether it acts on the fleet (``redis``:
    breaker state is shared) or on itself alone (``memory``)."""
    shared = _settings.breaker_store_url(_config.current()) is not None
    return {"pid": os.getpid(), "store": "redis" if shared else "memory"}


def answer(status: int, payload: Mapping[str, Any], **headers: str) -> Response:
    """A JSON answer, ``served_by`` included."""
    body = {**payload, "served_by": served_by()}
    return Response(status, {"Content-Type": JSON, **_NO_STORE, **headers}, body)


def ok(payload: Mapping[str, Any]) -> Response:
    return answer(200, payload)


def bad_request(detail: str) -> Response:
    return answer(400, {"error": "bad_request", "detail": detail})


def not_found(**fields: object) -> Response:
    return answer(404, {"error": "not_found", **fields})


def not_enabled(subsystem: str) -> Response:
    """A route whose subsystem is not running in this process."""
    return answer(404, {"error": "not_enabled", "subsystem": subsystem})


def method_not_allowed(allowed: list[str]) -> Response:
    return answer(405, {"error": "method_not_allowed"}, Allow=", ".join(allowed))
