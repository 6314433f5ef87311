"""``baldur._redact.redact_urls``: no URL password survives into text Baldur shows."""

from __future__ import annotations

import pytest

from baldur._redact import redact_urls


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis://app:s3cret@cache:6379/0", "redis://app:***@cache:6379/0"),
        ("redis://:s3cret@cache", "redis://:***@cache"),
        ("rediss://u:s3cret@a, postgres://v:t0p@b/db", "rediss://u:***@a, postgres://v:***@b/db"),
        ("redis://a:s3cret@h1,redis://b:t0p@h2", "redis://a:***@h1,redis://b:***@h2"),
        (
            "OperationalError('postgres://u:s3cret@db/x')",
            "OperationalError('postgres://u:***@db/x')",
        ),
        # Malformed: the password holds characters that end an authority.
        ("bad url redis://u:s3/cr#et@h:1/0 here", "bad url redis://u:***@h:1/0 here"),
        ("bad url redis://u:s3'cret@h here", "bad url redis://u:***@h here"),
        ("redis://u:s3cret@h/x@y", "redis://u:***@h/x@y"),
        # A Redis URL's lone user info may be its password (Sentinel reads it so).
        (
            "redis+sentinel://s3cret@s1:26379,s2/mymaster",
            "redis+sentinel://***@s1:26379,s2/mymaster",
        ),
        ("redis://s3cret@cache", "redis://***@cache"),
    ],
)
def test_passwords_are_hidden(text: str, expected: str) -> None:
    assert redact_urls(text) == expected


@pytest.mark.parametrize(
    "text",
    ["redis://cache:6379/0", "http://user@example.com", "http://h/x?to=a@b", "no URL", ""],
)
def test_text_without_a_password_is_unchanged(text: str) -> None:
    assert redact_urls(text) == text
