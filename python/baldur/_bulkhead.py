"""Bulkhead compartments: registering one, and reading every one's
occupancy. The compartments, their line and their permits live in the Rust
core (``core::bulkhead``); a call takes a permit through ``bulkhead=``.

>>> import baldur
>>> baldur.register_compartment("search", max_concurrent=8, max_waiting=16, wait_timeout=0.5)
>>> baldur.compartments()["search"].capacity
8
"""

from __future__ import annotations

import baldur._core as _core
import baldur._validate as _validate
from baldur.exceptions import ConfigError

CompartmentSnapshot = _core.CompartmentSnapshot

#: What ``max_waiting`` may be: 0 fails fast when the compartment is full.
_WAITING = f"an integer from 0 to {_validate.MAX_COUNT}"


def register_compartment(
    name: str, *, max_concurrent: int, max_waiting: int = 0, wait_timeout: float = 1.0
) -> None:
    """Registers a compartment (or changes a registered one's limits, for
    every callsite already naming it): ``max_concurrent`` calls hold a
    permit at once, ``max_waiting`` more wait in line (first come, first
    served) for at most ``wait_timeout`` seconds; beyond that a call raises
    :class:`baldur.BulkheadFullError`."""
    name = _validate.name(name)
    capacity = _validate.count("max_concurrent", max_concurrent)
    if (
        isinstance(max_waiting, bool)
        or not isinstance(max_waiting, int)
        or not 0 <= max_waiting <= _validate.MAX_COUNT
    ):
        raise ConfigError("max_waiting", max_waiting, _WAITING)
    wait = _validate.seconds("wait_timeout", wait_timeout, zero_allowed=True)
    _core.register_compartment(
        name, max_concurrent=capacity, max_waiting=max_waiting, wait_timeout=wait
    )


def compartments() -> dict[str, CompartmentSnapshot]:
    """Every compartment by name: ``active``, ``waiting``, ``capacity``,
    ``max_waiting``, ``wait_timeout`` and ``rejected`` (calls turned away
    since the process started)."""
    return _core.compartments()
