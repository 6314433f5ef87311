"""Reading an HTTP status and a ``Retry-After`` off a client library's
exception: requests, httpx, aiohttp and urllib, without importing any."""

from __future__ import annotations

import email.utils
import math
import time
import urllib.error
from collections.abc import Mapping


def http_status(exc: BaseException) -> int | None:
    """The HTTP status an exception carries, if it carries one."""
    # requests.HTTPError and httpx.HTTPStatusError carry the response.
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int):
        return status
    if isinstance(exc, urllib.error.HTTPError):
        return int(exc.code)
    # aiohttp.ClientResponseError keeps it as `.status`; only trusted by
    # module, since `.status` means other things on other exceptions.
    if type(exc).__module__.startswith("aiohttp"):
        status = getattr(exc, "status", None)
        if isinstance(status, int):
            return status
    return None


def is_client_error(status: int) -> bool:
    """Whether a status is the caller's own mistake: not the dependency's
    failure, and not worth retrying. 408 and 429 are the dependency's."""
    return not (status >= 500 or status in (408, 429))


def retry_after_seconds(exc: BaseException, status: int | None) -> float | None:
    """The delay a failure names itself: ``Retry-After`` on a 429 or 503, or a
    numeric ``retry_after`` attribute (Baldur's own ``CircuitOpenError``)."""
    if status in (429, 503):
        return _parse_retry_after(_headers(exc).get("Retry-After"))
    named = getattr(exc, "retry_after", None)
    if isinstance(named, (int, float)) and not isinstance(named, bool):
        return float(named) if math.isfinite(named) and named >= 0 else None
    return None


def _headers(exc: BaseException) -> Mapping[str, str]:
    response = getattr(exc, "response", None)
    for holder in (response, exc):
        headers = getattr(holder, "headers", None)
        if headers is not None and hasattr(headers, "get"):
            return headers  # type: ignore[no-any-return]
    return {}


def _parse_retry_after(value: object) -> float | None:
    """``Retry-After`` is either seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
