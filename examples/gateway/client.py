"""A synchronous client for the gateway's ``/charge`` (standard library
only). Failures stay the ``urllib`` exceptions: Baldur reads the HTTP status
off ``urllib.error.HTTPError`` (a 503 or 429 is the gateway's failure, a 4xx
the caller's mistake) and honours its ``Retry-After``."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def charge(
    base_url: str, key: str, amount_cents: int, customer: str, timeout: float = 5.0
) -> dict[str, Any]:
    """Charges ``amount_cents`` once per ``key`` (the provider's own
    idempotency key, derived from the order). Raises
    ``urllib.error.HTTPError`` on a 4xx/5xx and ``URLError`` when the gateway
    cannot be reached."""
    request = urllib.request.Request(
        base_url.rstrip("/") + "/charge",
        data=json.dumps({"amount_cents": amount_cents, "customer": customer}).encode(),
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer: dict[str, Any] = json.load(response)
    return answer
