"""What a dead-letter replay may call: only a function protected with
``dlq=True``, under the entry's own zone name. Every such function is
registered here when it is decorated; an entry naming anything else is
refused. The store is not trusted: anyone who can write a row into the
SQLite file, or a stream entry into Redis, would otherwise choose what the
replay runs.

Resolving an entry imports at most its module (whose decorators register
its protected functions) and looks nothing up in it. With
``BALDUR_DLQ_SIGNING_KEY`` every entry carries an HMAC-SHA-256 over its
zone, function and arguments, checked before anything is imported."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import inspect
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import baldur._config as _config
import baldur._core as _core

#: The prefix of an entry's ``signature``.
SCHEME = "hmac-sha256:"


class ReplayRefused(Exception):
    """The entry names nothing replay may call, or its signature fails."""


@dataclass(frozen=True)
class Replayable:
    """A registered function: called under its zone, as it was protected."""

    zone: _core.Zone
    func: Callable[..., Any]
    is_async: bool


_registry: dict[str, dict[str, Replayable]] = {}
# (zone, id of a protected function) -> (the function, its import path as it
# was when protected): a failing call records its entry without working the
# path out again. By id, since a callable object may not be hashable; the
# function is held, so its id is not reused.
_paths: dict[tuple[str, int], tuple[object, str]] = {}
_lock = threading.Lock()


def import_path(func: object) -> str:
    """``module:qualname`` of a function, or of a callable object's class."""
    named = func if hasattr(func, "__qualname__") else type(func)
    module = getattr(named, "__module__", None) or "?"
    return f"{module}:{getattr(named, '__qualname__', '?')}"


def register(zone: _core.Zone, func: Callable[..., Any]) -> None:
    """Called for every function protected with ``dlq=True``."""
    path = import_path(func)
    if "<" in path:  # a lambda or a local function: no later process finds it
        return
    entry = Replayable(zone, func, inspect.iscoroutinefunction(func))
    with _lock:
        _registry.setdefault(zone.name, {})[path] = entry
        _paths[zone.name, id(func)] = (func, path)


def protected_path(zone: str, func: object) -> str | None:
    """The import path of ``func`` if it was protected with ``dlq=True``
    under ``zone`` (so replay may call it), else ``None``."""
    found = _paths.get((zone, id(func)))
    return found[1] if found is not None and found[0] is func else None


def registered(zone: str, path: str) -> bool:
    """Whether replay may call ``path`` for an entry of ``zone``."""
    return _find(zone, path) is not None


def resolve(entry: dict[str, Any]) -> Replayable:
    """The function an entry's replay calls, or :class:`ReplayRefused`. An
    entry's module that cannot be imported raises its ``ImportError``."""
    zone, path = str(entry["zone"]), str(entry["function"])
    key = _config.current().dlq_signing_key
    if key is not None:
        verify(key, zone, path, str(entry["arguments"]))
    found = _find(zone, path)
    if found is not None:
        return found
    module, colon, qualname = path.partition(":")
    if colon and module and qualname and not module.startswith("."):
        importlib.import_module(module)  # its decorators register what it protects
        found = _find(zone, path)
        if found is not None:
            return found
    raise ReplayRefused(
        f"refused: {path!r} is not a protected dlq=True function of zone {zone!r} "
        "(replay calls only those)"
    )


def sign(key: str, zone: str, path: str, arguments: str) -> str:
    """The signature of an entry whose arguments document is ``arguments``
    (without a signature)."""
    document = json.loads(arguments)
    return SCHEME + _mac(key, zone, path, document["args"], document["kwargs"])


def verify(key: str, zone: str, path: str, arguments: str) -> None:
    """:class:`ReplayRefused` unless the entry's signature is right."""
    refused = ReplayRefused(
        "refused: the entry's signature does not match its zone, function and "
        "arguments under BALDUR_DLQ_SIGNING_KEY"
    )
    try:
        document = json.loads(arguments)
        signature = document["signature"]
        expected = SCHEME + _mac(key, zone, path, document["args"], document["kwargs"])
    except Exception:
        raise refused from None
    if not isinstance(signature, str) or not hmac.compare_digest(signature, expected):
        raise refused


def _mac(key: str, zone: str, path: str, args: object, kwargs: object) -> str:
    message = json.dumps([zone, path, args, kwargs], sort_keys=True, separators=(",", ":"))
    secret = key.encode("utf-8", "surrogatepass")
    return hmac.new(secret, message.encode("ascii"), hashlib.sha256).hexdigest()


def _find(zone: str, path: str) -> Replayable | None:
    with _lock:
        return _registry.get(zone, {}).get(path)
