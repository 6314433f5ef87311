"""Which Redis a process uses: BALDUR_REDIS_URL, a bare REDIS_URL only when
the prefixed one is unset, and per-feature URLs that win for their feature.
A bad URL is a ConfigError at init(), naming the variable."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import baldur
from baldur import _config, _core, _settings


def idempotency_url() -> str | None:
    return _settings.idempotency_store_url(_config.current())


def test_no_url_means_the_memory_store(configure: Callable[..., None]) -> None:
    configure()
    assert idempotency_url() is None


def test_baldur_redis_url_wins_over_a_bare_redis_url(
    monkeypatch: pytest.MonkeyPatch, configure: Callable[..., None]
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/1")
    monkeypatch.setenv("BALDUR_REDIS_URL", "redis://127.0.0.1:2/0")
    configure()
    assert idempotency_url() == "redis://127.0.0.1:2/0"


def test_a_bare_redis_url_counts_only_when_the_prefixed_one_is_unset(
    monkeypatch: pytest.MonkeyPatch, configure: Callable[..., None]
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/1")
    configure()
    assert idempotency_url() == "redis://127.0.0.1:1/1"


def test_a_per_feature_url_wins_for_its_feature(
    monkeypatch: pytest.MonkeyPatch, configure: Callable[..., None]
) -> None:
    monkeypatch.setenv("BALDUR_REDIS_URL", "redis://127.0.0.1:2/0")
    monkeypatch.setenv("BALDUR_RESILIENT_STORAGE_REDIS_URL", "redis://127.0.0.1:3/0")
    configure()
    assert idempotency_url() == "redis://127.0.0.1:3/0"
    monkeypatch.setenv("BALDUR_IDEMPOTENCY_REDIS_URL", "redis://127.0.0.1:4/0")
    configure()
    assert idempotency_url() == "redis://127.0.0.1:4/0"


@pytest.mark.parametrize(
    ("env", "value", "reason"),
    [
        ("BALDUR_REDIS_URL", "http://cache:6379", "unknown scheme"),
        ("BALDUR_REDIS_URL", "redis://", ""),
        ("REDIS_URL", "mongodb://x", "unknown scheme"),
        ("BALDUR_IDEMPOTENCY_REDIS_URL", "redis+sentinel://cache:26379", "service"),
    ],
)
def test_a_bad_url_is_a_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    configure: Callable[..., None],
    env: str,
    value: str,
    reason: str,
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(baldur.ConfigError) as caught:
        configure()
    assert caught.value.key == env
    assert value in str(caught.value)
    assert reason in str(caught.value)


def test_a_bad_url_given_to_init_names_the_keyword(configure: Callable[..., None]) -> None:
    with pytest.raises(baldur.ConfigError) as caught:
        configure(redis_url="redis//missing-colon")
    assert caught.value.key == "redis_url"


@pytest.mark.parametrize(
    "url",
    [
        "redis//:hunter2@cache:6379/0",  # no "://": the core echoed it as the scheme
        "redis://:hunter2@cache:6379/not-a-db",
        "redis://app:hunter2@cache:6379/0?protocol=7",
        "redis:/app:hunter2@cache",
        "http://app:hunter2@cache:6379",
    ],
)
def test_a_bad_url_never_shows_its_password(
    monkeypatch: pytest.MonkeyPatch, configure: Callable[..., None], url: str
) -> None:
    monkeypatch.setenv("BALDUR_REDIS_URL", url)
    with pytest.raises(baldur.ConfigError) as caught:
        configure()
    assert caught.value.key == "BALDUR_REDIS_URL"
    for shown in (str(caught.value), repr(caught.value), repr(caught.value.value)):
        assert "hunter2" not in shown
    monkeypatch.delenv("BALDUR_REDIS_URL")
    with pytest.raises(baldur.ConfigError) as caught:
        configure(idempotency_redis_url=url)
    assert caught.value.key == "idempotency_redis_url"
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in (_core.redis_url_problem(url) or "")


def test_a_config_error_hides_the_password_of_any_url_it_shows() -> None:
    error = baldur.ConfigError("BALDUR_SQL_DSN", "postgres://app:hunter2@db/x", "a DSN")
    assert "hunter2" not in str(error)
    assert "postgres://app:***@db/x" in str(error)
