"""Hiding secrets in text Baldur shows: a log line, an error message, a
health detail. One rule: the password of every ``scheme://user:pass@host``
becomes ``***``.

>>> redact_urls("cannot reach redis://app:s3cret@cache:6379/0")
'cannot reach redis://app:***@cache:6379/0'
>>> redact_urls("redis://:p#ss@cache, http://h:8080/x")
'redis://:***@cache, http://h:8080/x'
>>> redact_urls("redis+sentinel://s3cret@s1:26379/mymaster, http://alice@example.com/")
'redis+sentinel://***@s1:26379/mymaster, http://alice@example.com/'
"""

from __future__ import annotations

import re

#: ``scheme://`` (RFC 3986 scheme characters).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
#: Where a well-formed URL's authority (and so its user info) ends.
_AUTHORITY_END = re.compile(r"""[/?#\s"'<>]""")
#: Where any URL ends in running text.
_SPACE = re.compile(r"\s")

MASK = "***"


def redact_urls(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``
    (the user name stays, to tell which account). A password holding ``/``,
    ``?``, ``#`` or a quote (a malformed URL, exactly what an error message
    quotes) is hidden whole: the user info then runs to the last ``@``
    before a space."""
    if "://" not in text:
        return text
    out: list[str] = []
    position = 0
    for match in _SCHEME.finditer(text):
        start = match.end()
        if start < position:  # inside a password already hidden
            continue
        at = _userinfo_end(text, start)
        if at is None:
            continue
        colon = text.find(":", start, at)
        if colon == -1:
            if not match.group().lower().startswith("redis"):
                continue  # a user name alone: nothing secret to hide
            # A Redis URL's lone user info is often its password
            # (`redis+sentinel://secret@host` reads it so): hidden whole.
            colon = start - 1
        out.append(text[position : colon + 1])
        out.append(MASK)
        position = at
    out.append(text[position:])
    return "".join(out)


def _userinfo_end(text: str, start: int) -> int | None:
    """The index of the ``@`` closing the user info of the URL whose
    ``scheme://`` ends at ``start``, or ``None``. The next ``scheme://``
    ends a URL too (URLs joined by commas)."""
    following = _SCHEME.search(text, start)
    limit = len(text) if following is None else following.start()
    for end in (_AUTHORITY_END, _SPACE):
        found = end.search(text, start, limit)
        at = text.rfind("@", start, limit if found is None else found.start())
        if at != -1:
            return at
    return None
