"""Who leads the fleet: one process, by a lease in Redis, with a fencing
token that grows on every change of leader. Without Redis every process
leads itself (token 1), so leader-only work runs in a single process.

>>> import baldur.leader
>>> if baldur.leader.is_leader():
...     pass  # the fleet's once-only work

The lease is ``BALDUR_LEADER_LEASE_SECONDS`` (15 s, down to 1 s) in Redis at
``BALDUR_LEADER_ELECTION_REDIS_URL``, else where breaker state is shared. A
leader that cannot renew in time stops answering ``True`` before its lease
can end; work it hands to a store should go through :func:`fenced` so that
a leader that lost its lease (paused, cut off) is refused.
"""

from __future__ import annotations

from typing import NamedTuple

import baldur._config as _config
import baldur._core as _core

__all__ = ["LeaderStatus", "fenced", "is_leader", "read_fenced", "status"]


class LeaderStatus(NamedTuple):
    """Who leads, as this process sees it."""

    #: The leader's id (``host:pid:random``), or ``None`` while no lease is
    #: known to hold (before the first answer, or after the holder's lapsed).
    leader_id: str | None
    #: The fencing token of the leader last seen (0 before any).
    token: int
    #: Seconds the known lease holds yet; ``None`` without Redis (no lease).
    lease_left: float | None
    #: Whether this process leads now.
    is_leader: bool


def is_leader() -> bool:
    """Whether this process leads the fleet now."""
    _config.current()
    return _core.leader_is_leader()


def status() -> LeaderStatus:
    """Who leads, the fencing token, and how long the lease holds yet."""
    _config.current()
    return LeaderStatus(*_core.leader_status())


def start(**_: object) -> None:
    """Starts the lease loop if Redis is configured (``init()`` calls it,
    with the settings it applied)."""
    _core.leader_start()


def fenced(name: str, value: str, *, token: int | None = None) -> bool:
    """Writes ``value`` under ``name`` only if ``token`` (by default this
    process's own, while it leads) is the newest the election handed out:
    ``False`` when refused, as a stale leader's write is. Blocks for at
    most the store's timeout; ``ConnectionError`` when Redis does not answer.

    >>> s = status()
    >>> fenced("nightly-report", "done", token=s.token)  # doctest: +SKIP
    True
    """
    _config.current()
    return _core.leader_fenced(name, value, token)


def read_fenced(name: str) -> str | None:
    """What the last fenced write of ``name`` left (``None``: nothing)."""
    _config.current()
    return _core.leader_read_fenced(name)
