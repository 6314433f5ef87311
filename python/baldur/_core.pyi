# Stubs for the compiled module built from src/py/ (checked by mypy.stubtest).
from collections.abc import Callable
from typing import Any, TypeVar, final

from typing_extensions import Unpack

from baldur._options import ProtectOptions

_T = TypeVar("_T")

__all__ = [
    "ProtectResult",
    "Protected",
    "Zone",
    "circuit_state",
    "configure_breakers",
    "force_close",
    "force_open",
    "protect",
    "protect_with_meta",
    "register_breaker",
    "reset",
    "set_default_timeout",
    "set_transition_listener",
    "snapshots",
]

@final
class Zone:
    def __new__(
        cls,
        name: str,
        *,
        circuit_breaker: bool,
        attempts: int,
        base_delay: float,
        max_delay: float,
        multiplier: float,
        jitter: str,
        timeout: float | None,
        classifier: Callable[[BaseException], tuple[int, float | None]],
        fallback: Callable[..., Any] | None,
        fallback_takes_error: bool,
    ) -> Zone: ...
    @property
    def name(self) -> str: ...
    @property
    def timeout(self) -> float | None: ...
    @property
    def attempts(self) -> int: ...

@final
class Protected:
    def __new__(cls, zone: Zone, func: Callable[..., Any]) -> Protected: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def __get__(self, instance: object, owner: object = None, /) -> Any: ...
    @property
    def zone(self) -> Zone: ...

@final
class ProtectResult:
    """What happened to one protected call."""

    @property
    def value(self) -> Any: ...
    @property
    def error(self) -> BaseException | None: ...
    @property
    def ok(self) -> bool: ...
    @property
    def fallback_used(self) -> bool: ...
    @property
    def attempts(self) -> int: ...
    @property
    def rejected(self) -> bool: ...
    @property
    def circuit_state(self) -> str: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def dlq_id(self) -> str | None: ...
    def __bool__(self) -> bool: ...

def protect(name: str, func: Callable[[], _T], /, **keywords: Unpack[ProtectOptions]) -> _T: ...
def protect_with_meta(
    name: str, func: Callable[[], Any], /, **keywords: Unpack[ProtectOptions]
) -> ProtectResult: ...
def set_default_timeout(seconds: float | None) -> None: ...
def configure_breakers(
    failure_threshold: int,
    minimum_calls: int,
    recovery_timeout: float,
    half_open_max_calls: int,
    window_seconds: float,
) -> None: ...
def register_breaker(name: str) -> None: ...
def force_open(name: str) -> None: ...
def force_close(name: str) -> None: ...
def reset(name: str) -> None: ...
def circuit_state(name: str) -> str: ...
def snapshots() -> dict[str, dict[str, Any]]: ...
def set_transition_listener(
    callback: Callable[[str, str, str, str, int, int, int], None] | None,
) -> None: ...
