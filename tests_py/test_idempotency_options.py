"""Idempotency options: validated where they are written (a ``ConfigError``
naming the keyword), and the payload fingerprint that tells a true duplicate
from a different operation under a reused key."""

from __future__ import annotations

from typing import Any

import pytest

import baldur
from helpers import Recorder

Duplicate = baldur.IdempotencyDuplicateError
Mismatch = baldur.IdempotencyPayloadMismatchError


def test_an_unknown_argument_name_fails_at_decoration(zone_name: str) -> None:
    with pytest.raises(baldur.ConfigError) as info:
        baldur.protected(zone_name, idempotency_key="order")(lambda order_id: order_id)
    assert info.value.key == "idempotency_key"
    with pytest.raises(baldur.ConfigError) as info:
        baldur.idempotent(key=3)(lambda order_id: order_id)  # type: ignore[arg-type]
    assert info.value.key == "key"


@pytest.mark.parametrize(
    ("option", "value"), [("execution_ttl", 5.0), ("fail_open", True), ("payload", True)]
)
def test_idempotency_options_without_a_key_are_config_errors(
    zone_name: str, option: str, value: object
) -> None:
    for form in (
        lambda: baldur.protected(zone_name, **{f"idempotency_{option}": value}),
        lambda: baldur.protect(zone_name, lambda: 1, **{f"idempotency_{option}": value}),
    ):
        with pytest.raises(baldur.ConfigError) as info:
            form()
        assert info.value.key == f"idempotency_{option}"


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("execution_ttl", 0),
        ("execution_ttl", -1.0),
        ("execution_ttl", "30"),
        ("execution_ttl", float("nan")),
        ("fail_open", "yes"),
        ("payload", 5),
    ],
)
def test_bad_idempotency_options_are_config_errors(
    zone_name: str, option: str, value: object
) -> None:
    with pytest.raises(baldur.ConfigError) as info:
        baldur.protected(zone_name, idempotency_key="k", **{f"idempotency_{option}": value})
    assert info.value.key == f"idempotency_{option}"
    with pytest.raises(baldur.ConfigError) as info:
        baldur.idempotent(key="k", **{option: value})
    assert info.value.key == option


def test_good_options_are_accepted_and_still_deduplicate(zone_name: str) -> None:
    @baldur.protected(
        zone_name,
        idempotency_key="order_id",
        idempotency_execution_ttl=0.5,
        idempotency_fail_open=True,
        idempotency_payload=True,
    )
    def charge(order_id: str) -> str:
        return order_id

    @baldur.idempotent(
        key="order_id", operation=f"{zone_name}.ship", execution_ttl=2, fail_open=True
    )
    def ship(order_id: str) -> str:
        return order_id

    for call in (charge, ship):
        assert call("o-1") == "o-1"
        with pytest.raises(Duplicate):
            call("o-1")
    with pytest.raises(baldur.ConfigError) as info:
        baldur.idempotent(key="k", operation="")
    assert info.value.key == "operation"


class Payments:
    @baldur.idempotent(key="order_id", payload=True)
    def charge(self, order_id: str, amount: int, currency: str = "EUR") -> str:
        return f"{amount} {currency}"


def test_payload_true_fingerprints_every_argument_but_self(zone_name: str) -> None:
    order = zone_name  # @idempotent's namespace is fixed: a key no other test uses
    assert Payments().charge(order, 10) == "10 EUR"
    with pytest.raises(Duplicate) as same:  # another instance, defaults applied
        Payments().charge(order_id=order, amount=10, currency="EUR")
    assert type(same.value) is Duplicate
    for amount, currency in ((11, "EUR"), (10, "USD")):
        with pytest.raises(Mismatch) as different:
            Payments().charge(order, amount, currency)
        assert isinstance(different.value, Duplicate)
        assert (different.value.key, different.value.state) == (order, "completed")
    assert Payments().charge(f"{order}-2", 11) == "11 EUR"


def test_a_payload_callable_picks_the_fields_that_matter(zone_name: str) -> None:
    seen: list[tuple[object, ...]] = []

    def amount(order_id: str, amount: int, note: str = "") -> int:
        seen.append((order_id, amount, note))
        return amount

    @baldur.protected(zone_name, idempotency_key="order_id", idempotency_payload=amount)
    def charge(order_id: str, amount: int, note: str = "") -> int:
        return amount

    assert charge("o-1", 10, note="first") == 10
    with pytest.raises(Duplicate) as same:
        charge("o-1", 10, note="a retry by the client")
    assert type(same.value) is Duplicate
    with pytest.raises(Mismatch):
        charge("o-1", amount=12)
    assert seen[0] == ("o-1", 10, "first")


def test_a_mismatch_while_the_original_runs_is_in_progress(zone_name: str) -> None:
    refused: list[BaseException] = []

    @baldur.protected(zone_name, idempotency_key="order_id", idempotency_payload=True)
    def charge(order_id: str, amount: int) -> int:
        if amount == 10:
            with pytest.raises(Mismatch) as info:
                charge(order_id, 99)
            refused.append(info.value)
        return amount

    assert charge("o-1", 10) == 10
    assert [type(e) for e in refused] == [Mismatch] and refused[0].state == "in_progress"  # type: ignore[attr-defined]


def test_a_released_claim_forgets_its_payload(zone_name: str) -> None:
    side_effect = Recorder(fail=1)
    charge = baldur.protected(zone_name, idempotency_key="order_id", idempotency_payload=True)(
        lambda order_id, amount: side_effect(order_id, amount)
    )
    with pytest.raises(ConnectionError):
        charge("o-1", 10)
    assert charge("o-1", 12) == "done o-1"  # the failed call left nothing to mismatch
    with pytest.raises(Mismatch):
        charge("o-1", 10)


def test_the_function_forms_fingerprint_a_zero_argument_callable(zone_name: str) -> None:
    with pytest.raises(baldur.ConfigError) as info:
        baldur.protect(zone_name, lambda: 1, idempotency_key="o-1", idempotency_payload=True)
    assert info.value.key == "idempotency_payload"
    order = {"amount": 10}
    baldur.protect(zone_name, lambda: 1, idempotency_key="o-1", idempotency_payload=lambda: order)
    with pytest.raises(Duplicate) as same:
        baldur.protect(
            zone_name, lambda: 1, idempotency_key="o-1", idempotency_payload=lambda: order
        )
    assert type(same.value) is Duplicate
    result = baldur.protect_with_meta(
        zone_name, lambda: 1, idempotency_key="o-1", idempotency_payload=lambda: {"amount": 11}
    )
    assert isinstance(result.error, Mismatch) and result.attempts == 0


def test_the_memory_ttl_setting_defaults_to_1800_and_is_validated(
    configure: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert baldur._config.current().idempotency_gate_memory_ttl_seconds == 1800.0
    with pytest.raises(baldur.ConfigError) as info:
        configure(idempotency_gate_memory_ttl_seconds=0)
    assert info.value.key == "idempotency_gate_memory_ttl_seconds"
    monkeypatch.setenv("BALDUR_IDEMPOTENCY_GATE_MEMORY_TTL_SECONDS", "soon")
    with pytest.raises(baldur.ConfigError) as info:
        configure()
    assert info.value.key == "BALDUR_IDEMPOTENCY_GATE_MEMORY_TTL_SECONDS"
