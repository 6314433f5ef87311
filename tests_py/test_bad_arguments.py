"""Arguments that cannot mean anything are refused with an error naming the
argument and what is allowed, not an ``OverflowError`` or a
``UnicodeEncodeError`` from deep inside."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import baldur
from baldur import metrics


@pytest.mark.parametrize(
    ("call", "key"),
    [
        (lambda: baldur.dlq.list(limit=-1), "limit"),
        (lambda: baldur.dlq.list(limit=0), "limit"),
        (lambda: baldur.dlq.list(limit=2**70), "limit"),
        (lambda: baldur.dlq.redrive("1", -1), "budget"),
        (lambda: baldur.dlq.redrive("1", 2**70), "budget"),
        (lambda: metrics.record_request("GET", "/x", -1, 0.1), "status"),
        (lambda: metrics.record_request("GET", "/x", 2**70, 0.1), "status"),
        (lambda: baldur.dlq.get("7\ud800"), "entry_id"),
        (lambda: baldur.dlq.replay("7\ud800"), "entry_id"),
        (lambda: baldur.dlq.redrive("7\ud800"), "entry_id"),
        (lambda: baldur.dlq.list(domain="zone\ud800"), "domain"),
    ],
)
def test_a_meaningless_argument_is_a_config_error_naming_it(
    call: Callable[[], object], key: str
) -> None:
    with pytest.raises(baldur.ConfigError) as caught:
        call()
    assert caught.value.key == key
    assert "allowed is" in str(caught.value)


def test_an_idempotency_key_with_a_lone_surrogate_is_a_key_error(zone_name: str) -> None:
    ran: list[str] = []

    @baldur.protected(zone_name, idempotency_key="order_id")
    def charge(order_id: str) -> None:
        ran.append(order_id)

    with pytest.raises(baldur.IdempotencyKeyError) as caught:
        charge("o-1\udc00")
    assert "surrogate" in str(caught.value) and zone_name in str(caught.value)
    assert ran == []
