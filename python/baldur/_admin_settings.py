"""How the admin server's settings are read: its address, its keys and
the browser-safety lists (each entry checked by the Rust core's own
parser, the one the server matches requests with)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import baldur._core as _core
from baldur.exceptions import ConfigError

#: The admin server's port when none is set; 0 turns it off.
DEFAULT_PORT = 9090
#: Where it listens when no host is set: this machine only.
DEFAULT_HOST = "127.0.0.1"


def port(key: str, raw: object) -> int:
    allowed = "a port number in 0..65535 (0 turns the admin server off)"
    if isinstance(raw, bool):
        raise ConfigError(key, raw, allowed)
    try:
        value = int(raw.strip()) if isinstance(raw, str) else int(raw)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ConfigError(key, raw, allowed) from None
    if not 0 <= value <= 65535 or (isinstance(raw, float) and raw != value):
        raise ConfigError(key, raw, allowed)
    return value


def host(key: str, raw: object) -> str:
    """An IP address to listen on (a name could resolve anywhere)."""
    text = raw.strip() if isinstance(raw, str) else None
    try:
        ipaddress.ip_address(text or "")
    except ValueError:
        raise ConfigError(key, raw, "an IP address to listen on, such as 127.0.0.1") from None
    return str(text)


def hosts(key: str, raw: object) -> tuple[str, ...]:
    return _entries(key, raw, _core.admin_host_problem, "host or host:port")


def origins(key: str, raw: object) -> tuple[str, ...]:
    return _entries(key, raw, _core.admin_origin_problem, "http(s)://host[:port]")


_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def flag(key: str, raw: object) -> bool:
    """A boolean as the contract spells them: true/false, 1/0, yes/no,
    on/off, in any case."""
    if isinstance(raw, bool):
        return raw
    text = raw.strip().lower() if isinstance(raw, str) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(key, raw, "true/false, 1/0, yes/no or on/off")


def _entries(
    key: str, raw: object, problem_of: Callable[[str], str | None], shape: str
) -> tuple[str, ...]:
    if isinstance(raw, str):
        entries = [entry.strip() for entry in raw.split(",")]
    elif isinstance(raw, (list, tuple)) and all(isinstance(entry, str) for entry in raw):
        entries = [entry.strip() for entry in raw]
    else:
        raise ConfigError(key, raw, f"a comma-separated list of {shape}")
    entries = [entry for entry in entries if entry]
    for entry in entries:
        problem = problem_of(entry)
        if problem is not None:
            raise ConfigError(key, entry, f"a comma-separated list of {shape} ({problem})")
    return tuple(entries)
