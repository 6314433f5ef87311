"""What counts as a failure: ``ignore=``, and HTTP errors from requests, httpx
and urllib (a 4xx other than 408/429 is the caller's mistake, not the
dependency's), plus the ``Retry-After`` a 429/503 names.

The HTTP errors are the real exception objects each library raises, made the
way the library makes them (``raise_for_status()``), without a network.
"""

from __future__ import annotations

import email.utils
import http.client
import time
import urllib.error
from collections.abc import Callable

import httpx
import pytest
import requests

import baldur
from helpers import Boom, FastBreaker, Flaky, Raising

URL = "https://api.example.invalid/v1/charge"
NO_WAIT = baldur.RetryPolicy(attempts=3, base_delay=0, max_delay=0)


def requests_error(status: int, headers: dict[str, str] | None = None) -> Exception:
    response = requests.Response()
    response.status_code = status
    response.reason = http.client.responses.get(status, "")
    response.url = URL
    response.headers.update(headers or {})
    try:
        response.raise_for_status()
    except requests.HTTPError as error:
        assert error.response is response
        return error
    raise AssertionError(f"requests did not raise for {status}")


def httpx_error(status: int, headers: dict[str, str] | None = None) -> Exception:
    request = httpx.Request("POST", URL)
    response = httpx.Response(status, headers=headers, request=request)
    try:
        response.raise_for_status()
    except httpx.HTTPStatusError as error:
        assert error.response is response
        return error
    raise AssertionError(f"httpx did not raise for {status}")


def urllib_error(status: int, headers: dict[str, str] | None = None) -> Exception:
    message = http.client.HTTPMessage()
    for key, value in (headers or {}).items():
        message[key] = value
    return urllib.error.HTTPError(URL, status, http.client.responses.get(status, ""), message, None)


MakeError = Callable[..., Exception]
LIBRARIES: list[MakeError] = [requests_error, httpx_error, urllib_error]
LIBRARY_IDS = ["requests", "httpx", "urllib"]

CLIENT_ERRORS = [400, 401, 403, 404, 409, 422]
DEPENDENCY_FAILURES = [408, 429, 500, 502, 503, 504]


def status_of(error: BaseException) -> int:
    if isinstance(error, urllib.error.HTTPError):
        return error.code
    return int(error.response.status_code)  # type: ignore[attr-defined]


# -- HTTP client errors (4xx): the dependency answered ---------------------------


@pytest.mark.parametrize("make", LIBRARIES, ids=LIBRARY_IDS)
@pytest.mark.parametrize("status", CLIENT_ERRORS)
def test_a_client_error_propagates_untouched(zone_name: str, make: MakeError, status: int) -> None:
    error = make(status)
    dependency = Flaky(error, value="unreached")
    fallback_calls: list[None] = []

    with pytest.raises(type(error)) as caught:
        baldur.protect(
            zone_name, dependency, retry=NO_WAIT, fallback=lambda: fallback_calls.append(None)
        )

    assert caught.value is error  # untouched
    assert dependency.count == 1  # not retried
    assert fallback_calls == []  # no fallback
    snapshot = baldur.circuits()[zone_name]
    assert (snapshot["calls"], snapshot["failures"]) == (1, 0)  # counted as a success


@pytest.mark.parametrize("make", LIBRARIES, ids=LIBRARY_IDS)
def test_client_errors_never_trip_the_breaker(
    zone_name: str, make: MakeError, fast_breaker: FastBreaker
) -> None:
    error_type = type(make(404))
    for _ in range(fast_breaker.minimum_calls * 3):
        with pytest.raises(error_type):
            baldur.protect(zone_name, Raising(lambda: make(404)))
    assert baldur.circuit_state(zone_name) == "closed"


# -- HTTP dependency failures (5xx, 408, 429) -----------------------------------


@pytest.mark.parametrize("make", LIBRARIES, ids=LIBRARY_IDS)
@pytest.mark.parametrize("status", DEPENDENCY_FAILURES)
def test_a_server_error_is_a_failure(zone_name: str, make: MakeError, status: int) -> None:
    dependency = Raising(lambda: make(status))
    received: list[BaseException] = []

    def fallback(exc: BaseException) -> str:
        received.append(exc)
        return "degraded"

    answer = baldur.protect(zone_name, dependency, retry=NO_WAIT, fallback=fallback)

    assert answer == "degraded"
    assert dependency.count == 3  # retried
    assert len(received) == 1
    assert received[0] is dependency.raised[-1]
    assert status_of(received[0]) == status
    snapshot = baldur.circuits()[zone_name]
    assert (snapshot["calls"], snapshot["failures"]) == (3, 3)


@pytest.mark.parametrize("make", LIBRARIES, ids=LIBRARY_IDS)
def test_server_errors_trip_the_breaker(
    zone_name: str, make: MakeError, fast_breaker: FastBreaker
) -> None:
    error_type = type(make(503))
    for _ in range(fast_breaker.minimum_calls):
        with pytest.raises(error_type):
            baldur.protect(zone_name, Raising(lambda: make(503)))
    with pytest.raises(baldur.CircuitOpenError):
        baldur.protect(zone_name, Raising(lambda: make(503)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: requests.ConnectionError("connection refused"),
        lambda: requests.Timeout("read timed out"),
        lambda: httpx.ConnectError("connection refused", request=httpx.Request("GET", URL)),
        lambda: httpx.ReadTimeout("read timed out", request=httpx.Request("GET", URL)),
        lambda: urllib.error.URLError("connection refused"),
        lambda: requests.HTTPError("no response attached"),
    ],
    ids=[
        "requests-connect",
        "requests-timeout",
        "httpx-connect",
        "httpx-read-timeout",
        "urllib-url-error",
        "requests-no-response",
    ],
)
def test_transport_errors_without_a_status_are_failures(
    zone_name: str, make: Callable[[], Exception]
) -> None:
    dependency = Raising(make)
    result = baldur.protect_with_meta(zone_name, dependency, retry=NO_WAIT)
    assert result.attempts == 3
    assert baldur.circuits()[zone_name]["failures"] == 3


def test_a_status_attribute_alone_does_not_make_an_http_error(zone_name: str) -> None:
    """Only the HTTP libraries' own exceptions are read for a status: an
    application error that happens to have ``status = 404`` is a failure."""

    class ApiError(Exception):
        status = 404

    dependency = Raising(ApiError)
    result = baldur.protect_with_meta(zone_name, dependency, retry=NO_WAIT)
    assert result.attempts == 3
    assert baldur.circuits()[zone_name]["failures"] == 3


# -- ignore= ---------------------------------------------------------------------


def test_an_ignored_exception_propagates_untouched(zone_name: str) -> None:
    error = KeyError("sku-unknown")
    dependency = Flaky(error, value="unreached")
    fallback_calls: list[None] = []

    with pytest.raises(KeyError) as caught:
        baldur.protect(
            zone_name,
            dependency,
            ignore=KeyError,
            retry=NO_WAIT,
            fallback=lambda: fallback_calls.append(None),
        )

    assert caught.value is error
    assert dependency.count == 1
    assert fallback_calls == []
    snapshot = baldur.circuits()[zone_name]
    assert (snapshot["calls"], snapshot["failures"]) == (1, 0)


def test_ignored_exceptions_never_trip_the_breaker(
    zone_name: str, fast_breaker: FastBreaker
) -> None:
    for _ in range(fast_breaker.minimum_calls * 3):
        with pytest.raises(KeyError):
            baldur.protect(zone_name, Raising(lambda: KeyError("k")), ignore=KeyError)
    assert baldur.circuit_state(zone_name) == "closed"


def test_ignore_takes_a_tuple_and_matches_subclasses(zone_name: str) -> None:
    for error in (KeyError("k"), IndexError("i"), PermissionError("p")):
        dependency = Flaky(error)
        with pytest.raises(type(error)):
            baldur.protect(zone_name, dependency, ignore=(LookupError, PermissionError))
    snapshot = baldur.circuits()[zone_name]
    assert (snapshot["calls"], snapshot["failures"]) == (3, 0)


def test_ignore_leaves_other_exceptions_failures(zone_name: str) -> None:
    dependency = Raising(lambda: Boom("down"))
    answer = baldur.protect(
        zone_name, dependency, ignore=KeyError, retry=NO_WAIT, fallback=lambda: "degraded"
    )
    assert answer == "degraded"
    assert dependency.count == 3


def test_ignore_wins_over_retry_on(zone_name: str) -> None:
    policy = baldur.RetryPolicy(base_delay=0, max_delay=0, retry_on=LookupError)
    dependency = Flaky(KeyError("k"))
    with pytest.raises(KeyError):
        baldur.protect(zone_name, dependency, ignore=KeyError, retry=policy)
    assert dependency.count == 1


def test_ignore_can_silence_a_server_error(zone_name: str) -> None:
    dependency = Raising(lambda: requests_error(503))
    with pytest.raises(requests.HTTPError):
        baldur.protect(zone_name, dependency, ignore=requests.HTTPError, retry=NO_WAIT)
    assert dependency.count == 1
    assert baldur.circuits()[zone_name]["failures"] == 0


# -- Retry-After -----------------------------------------------------------------


def test_retry_after_is_honoured(zone_name: str) -> None:
    """The schedule says no wait at all; the server says one second."""
    dependency = Flaky(requests_error(429, {"Retry-After": "1"}), value="ok")
    policy = baldur.RetryPolicy(attempts=2, base_delay=0, max_delay=5)
    started = time.monotonic()
    assert baldur.protect(zone_name, dependency, retry=policy) == "ok"
    elapsed = time.monotonic() - started
    assert dependency.count == 2
    assert 0.9 <= elapsed < 4.0


@pytest.mark.parametrize("make", LIBRARIES, ids=LIBRARY_IDS)
@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_capped_by_max_delay(zone_name: str, make: MakeError, status: int) -> None:
    dependency = Flaky(make(status, {"Retry-After": "30"}), value="ok")
    policy = baldur.RetryPolicy(attempts=2, base_delay=0, max_delay=0.2)
    started = time.monotonic()
    assert baldur.protect(zone_name, dependency, retry=policy) == "ok"
    elapsed = time.monotonic() - started
    assert 0.15 <= elapsed < 3.0  # waited, but max_delay, not 30 s


@pytest.mark.parametrize("huge", ["99999999999999999999", "1" + "0" * 400])
def test_an_absurd_retry_after_is_capped_not_a_crash(zone_name: str, huge: str) -> None:
    """A server's Retry-After too large for any clock still means "as long
    as allowed": capped by max_delay; the call neither crashes nor leaks its
    breaker state."""
    dependency = Flaky(requests_error(503, {"Retry-After": huge}), value="ok")
    policy = baldur.RetryPolicy(attempts=2, base_delay=0, max_delay=0.05)
    assert baldur.protect(zone_name, dependency, retry=policy) == "ok"
    assert dependency.count == 2
    assert baldur.circuit_state(zone_name) == "closed"


def test_retry_after_as_an_http_date(zone_name: str) -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    dependency = Flaky(httpx_error(503, {"Retry-After": later}), value="ok")
    policy = baldur.RetryPolicy(attempts=2, base_delay=0, max_delay=0.2)
    started = time.monotonic()
    assert baldur.protect(zone_name, dependency, retry=policy) == "ok"
    assert 0.15 <= time.monotonic() - started < 3.0


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [
        (500, "30"),  # only a 429 or 503 names a delay
        (429, "soon"),  # unreadable: the schedule applies
        (503, email.utils.formatdate(time.time() - 3600, usegmt=True)),  # already passed
    ],
    ids=["500-ignored", "malformed", "date-in-the-past"],
)
def test_retry_after_that_names_no_wait(zone_name: str, status: int, retry_after: str) -> None:
    dependency = Flaky(requests_error(status, {"Retry-After": retry_after}), value="ok")
    policy = baldur.RetryPolicy(attempts=2, base_delay=0, max_delay=10)
    started = time.monotonic()
    assert baldur.protect(zone_name, dependency, retry=policy) == "ok"
    assert time.monotonic() - started < 0.9


def test_retry_after_past_the_deadline_times_out_at_once(zone_name: str) -> None:
    """A wait that would end after the call's timeout is not slept through."""
    error = requests_error(429, {"Retry-After": "5"})
    dependency = Raising(lambda: error)
    policy = baldur.RetryPolicy(attempts=3, base_delay=0, max_delay=10)
    started = time.monotonic()
    with pytest.raises(baldur.ProtectTimeoutError) as caught:
        baldur.protect(zone_name, dependency, retry=policy, timeout=1.0)
    assert time.monotonic() - started < 0.9
    assert caught.value.__cause__ is error
    assert dependency.count == 1


def test_a_client_error_with_retry_after_is_still_not_retried(zone_name: str) -> None:
    dependency = Flaky(httpx_error(404, {"Retry-After": "1"}), value="unreached")
    with pytest.raises(httpx.HTTPStatusError):
        baldur.protect(zone_name, dependency, retry=True)
    assert dependency.count == 1
