"""Idempotency options at a callsite: where the key comes from, how the
payload is fingerprinted, and the spec the Rust core claims keys with."""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
from collections.abc import Callable
from typing import Any

import baldur._core as _core
import baldur._validate as _validate
from baldur.exceptions import ConfigError

#: Seconds a running claim is honoured before it may be taken over (the
#: core's default, read from it).
DEFAULT_EXECUTION_TTL: float = _core.IDEMPOTENCY_DEFAULT_EXECUTION_TTL

Fingerprint = Callable[[tuple[Any, ...], "dict[str, Any] | None"], int]


class _Given:
    """Stands for a function-form key given with each call: the zone is the
    same for every key, so it is built once and the key travels per call."""

    def __repr__(self) -> str:
        return "<key given per call>"


GIVEN = _Given()


@dataclasses.dataclass(frozen=True)
class IdempotencyOptions:
    """The ``idempotency_*`` keywords of one callsite, validated."""

    key: object
    execution_ttl: float
    fail_open: bool
    payload: bool | Callable[..., object] | None
    #: How the keywords are spelled where they were given, for errors:
    #: "idempotency_" on protected(), "" on @idempotent.
    prefix: str = "idempotency_"

    @classmethod
    def from_keywords(
        cls,
        key: object,
        execution_ttl: object,
        fail_open: object,
        payload: object,
        prefix: str = "idempotency_",
    ) -> IdempotencyOptions | None:
        """The options, or ``None`` when idempotency is off; a setting that
        only makes sense with a key is an error without one."""
        if key is None:
            for name, value, off in (
                ("execution_ttl", execution_ttl, None),
                ("fail_open", fail_open, False),
                ("payload", payload, None),
            ):
                if value is not off:
                    raise ConfigError(prefix + name, value, f"{off!r} unless {prefix}key= is set")
            return None
        if execution_ttl is None:
            execution_ttl = DEFAULT_EXECUTION_TTL
        ttl = _validate.seconds(prefix + "execution_ttl", execution_ttl)
        _validate.flag(prefix + "fail_open", fail_open)
        if payload is not None and not isinstance(payload, bool) and not callable(payload):
            raise ConfigError(
                prefix + "payload", payload, "True, or a callable returning the fields that matter"
            )
        return cls(key, ttl, bool(fail_open), payload, prefix)


def spec_for_function(
    namespace: str, options: IdempotencyOptions, func: Callable[..., Any]
) -> _core.IdempotencySpec:
    """The decorator forms: the key names an argument of ``func`` (found by
    position or keyword) or is a callable receiving the call's arguments."""
    fingerprint = _fingerprint_arguments(func) if options.payload is True else None
    if callable(options.payload):
        fingerprint = _fingerprint_of(options.payload)
    common: dict[str, Any] = {
        "fingerprint": fingerprint,
        "execution_ttl": options.execution_ttl,
        "fail_open": options.fail_open,
    }
    key = options.key
    if callable(key):
        return _core.IdempotencySpec(namespace, key_callable=key, **common)
    if not isinstance(key, str):
        raise ConfigError(
            options.prefix + "key",
            key,
            "an argument name, or a callable receiving the call's arguments",
        )
    signature = inspect.signature(func)
    parameter = signature.parameters.get(key)
    if parameter is None:
        if not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
            raise ConfigError(
                options.prefix + "key",
                key,
                f"an argument of {func.__qualname__}: {list(signature.parameters)}",
            )
        return _core.IdempotencySpec(namespace, key_name=key, **common)
    index = list(signature.parameters).index(key)
    by_position = parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    default = None if parameter.default is parameter.empty else parameter.default
    return _core.IdempotencySpec(
        namespace,
        key_name=key,
        key_index=index if by_position else None,
        key_default=default,
        **common,
    )


def spec_for_call(namespace: str, options: IdempotencyOptions) -> _core.IdempotencySpec:
    """The function forms (``protect`` and friends), whose function takes no
    argument: the key is the value given, or what a zero-argument callable
    returns."""
    if options.payload is True:
        raise ConfigError(
            options.prefix + "payload",
            True,
            "a zero-argument callable returning the payload"
            " (the function forms have no arguments to fingerprint)",
        )
    fingerprint = _fingerprint_of(options.payload) if callable(options.payload) else None
    common: dict[str, Any] = {
        "fingerprint": fingerprint,
        "execution_ttl": options.execution_ttl,
        "fail_open": options.fail_open,
    }
    if options.key is GIVEN:
        return _core.IdempotencySpec(namespace, key_given=True, **common)
    if callable(options.key):
        return _core.IdempotencySpec(namespace, key_callable=options.key, **common)
    return _core.IdempotencySpec(namespace, key_value=options.key, **common)


def digest(value: object) -> int:
    """A stable 64-bit fingerprint of a value: the same in every process
    (canonical JSON, keys sorted; what JSON cannot hold is taken by repr)."""
    try:
        text = json.dumps(value, sort_keys=True, default=repr, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr(value)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _fingerprint_arguments(func: Callable[..., Any]) -> Fingerprint:
    """Every argument of the call (defaults applied), except ``self`` and
    ``cls``, whose identity differs between calls of the same operation."""
    signature = inspect.signature(func)
    names = list(signature.parameters)
    skip = {names[0]} if names and names[0] in ("self", "cls") else set()

    def fingerprint(args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> int:
        bound = signature.bind(*args, **(kwargs or {}))
        bound.apply_defaults()
        return digest({k: v for k, v in bound.arguments.items() if k not in skip})

    return fingerprint


def _fingerprint_of(pick: Callable[..., object]) -> Fingerprint:
    """The fields the caller says matter: ``pick(*args, **kwargs)``."""

    def fingerprint(args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> int:
        return digest(pick(*args, **(kwargs or {})))

    return fingerprint
