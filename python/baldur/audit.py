"""The audit trail: every operator action and every action Baldur takes on
its own, one record each, in a hash chain that cannot be quietly edited.

Off by default; ``BALDUR_AUDIT_ENABLED=true`` turns it on, into
``BALDUR_DATA_DIR/audit.sqlite3`` (table ``baldur_audit``). A record's
``hash`` is the lowercase hex SHA-256 of ``json.dumps({every field but
hash}, sort_keys=True, separators=(",", ":"))`` with ``prev_hash`` inside,
so it can be checked with the standard library alone. The chain's head is
checkpointed every 1,000 records and at a clean exit, signed with
HMAC-SHA-256 when ``BALDUR_AUDIT_SIGNING_KEY`` is set.

>>> import baldur.audit
>>> baldur.audit.verify().ok
True
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import baldur._config as _config
import baldur._core as _core
import baldur._validate as _validate
from baldur.exceptions import ConfigError

__all__ = ["AuditRecord", "AuditVerdict", "list", "verify"]

_list = list


class AuditRecord(NamedTuple):
    """One record of the chain."""

    seq: int
    #: Seconds since the epoch.
    at: float
    actor: str
    action: str
    target: str
    reason: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditVerdict(NamedTuple):
    """What a walk of the chain found."""

    #: The whole chain holds (an empty or disabled trail holds).
    ok: bool
    #: Records found sound before the first bad one.
    checked: int
    #: The first seq missing or failing.
    first_bad_seq: int | None
    #: What is wrong there.
    problem: str | None


def list(limit: int = 100, after: int = 0) -> _list[AuditRecord]:
    """Up to ``limit`` records with ``seq > after``, ascending (empty while
    the trail is off)."""
    _config.current()
    limit = _validate.limit("limit", limit)
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise ConfigError("after", after, "a seq: an integer >= 0")
    return [
        AuditRecord(seq, at, actor, action, target, reason, json.loads(details), prev, hash_)
        for seq, at, actor, action, target, reason, details, prev, hash_ in _core.audit_list(
            limit, after
        )
    ]


def verify() -> AuditVerdict:
    """Walks the whole chain and names the first record missing, edited,
    inserted or out of place, or a tail cut behind a checkpoint."""
    _config.current()
    verdict = _core.audit_verify()
    if verdict is None:
        return AuditVerdict(ok=True, checked=0, first_bad_seq=None, problem=None)
    return AuditVerdict(*verdict)
