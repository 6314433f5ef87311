"""A dead-letter entry's arguments as JSON that comes back exactly as it was
passed: a replay calls the function with equal values of the same types.

JSON alone would turn a tuple into a list and ``{1: "a"}`` into
``{"1": "a"}``; those are kept in a tagged form (``{"__baldur__": "tuple",
"items": [...]}``, and ``"dict"`` with ``[key, value]`` pairs) that decoding
restores. Anything else that is not plain JSON (an object, a subclass of a
builtin, nesting deeper than :data:`MAX_DEPTH`, an int too long to print) is
kept as a ``{"__repr__": ...}`` placeholder and makes the entry not
replayable. Encoding never raises: recording must not change a call's
outcome."""

from __future__ import annotations

import json
import reprlib
from typing import Any

#: The key of a tagged value.
TAG = "__baldur__"

#: Containers nested deeper than this are not kept (a replay could not
#: read them back, and a cycle would never end).
MAX_DEPTH = 100

_placeholder = reprlib.Repr()
_placeholder.maxstring = _placeholder.maxother = 200


class NotEncodable(Exception):
    """Why a value cannot be kept exactly."""


#: What a call without arguments records (most dead letters' calls).
_NO_ARGUMENTS = json.dumps({"args": [], "kwargs": {}})


def encode(args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> tuple[str, list[str]]:
    """The arguments as JSON, and what made the entry not replayable: one
    ``"name: why"`` per argument kept by placeholder."""
    if not args and not kwargs:
        return _NO_ARGUMENTS, []
    problems: list[str] = []
    document = {
        "args": [_keep(position, value, problems) for position, value in enumerate(args)],
        "kwargs": {
            str(name): _keep(str(name), value, problems) for name, value in (kwargs or {}).items()
        },
    }
    return json.dumps(document), problems


def _keep(name: int | str, value: object, problems: list[str]) -> object:
    """``value`` as JSON can hold it, or its placeholder with why in
    ``problems`` (named ``args[i]`` for a position, else by keyword)."""
    try:
        return _value(value, 0)
    except NotEncodable as why:
        problems.append(f"{_argument(name)}: {why}")
    except Exception as failed:  # RecursionError, MemoryError's kin: never the caller's
        problems.append(f"{_argument(name)}: {type(failed).__name__}")
    return {"__repr__": placeholder(value)}


def _argument(name: int | str) -> str:
    return f"args[{name}]" if isinstance(name, int) else name


def decode(arguments: str) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments an entry recorded."""
    document = json.loads(arguments)
    if not isinstance(document, dict):
        raise ValueError("the entry's arguments are not a JSON object")
    args, kwargs = document.get("args"), document.get("kwargs")
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ValueError("the entry's arguments have no args list and kwargs object")
    return [_restore(value) for value in args], {
        str(name): _restore(value) for name, value in kwargs.items()
    }


def placeholder(value: object) -> str:
    """A short ``repr`` that never raises (a failing ``__repr__``, an int
    too long to print)."""
    if isinstance(value, int) and type(value) is int and not _printable(value):
        return f"<int of {value.bit_length()} bits>"
    try:
        return _placeholder.repr(value)
    except Exception:
        return f"<{type(value).__qualname__} object: repr() failed>"


def _value(value: object, depth: int) -> object:
    if depth > MAX_DEPTH:
        raise NotEncodable(f"nested deeper than {MAX_DEPTH}")
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is float:
        return value
    if isinstance(value, int) and kind is int:
        if not _printable(value):
            raise NotEncodable("an int too long for JSON")
        return value
    if isinstance(value, list) and kind is list:
        return [_value(item, depth + 1) for item in value]
    if isinstance(value, tuple) and kind is tuple:
        return {TAG: "tuple", "items": [_value(item, depth + 1) for item in value]}
    if isinstance(value, dict) and kind is dict:
        if TAG not in value and all(type(key) is str for key in value):
            return {key: _value(item, depth + 1) for key, item in value.items()}
        pairs = [[_value(k, depth + 1), _value(v, depth + 1)] for k, v in value.items()]
        return {TAG: "dict", "items": pairs}
    raise NotEncodable(f"a {kind.__qualname__} is not JSON")


def _printable(value: int) -> bool:
    try:
        int.__repr__(value)
    except ValueError:  # past sys.get_int_max_str_digits()
        return False
    return True


def _restore(value: object) -> Any:
    if isinstance(value, list):
        return [_restore(item) for item in value]
    if not isinstance(value, dict):
        return value
    if TAG not in value:
        return {key: _restore(item) for key, item in value.items()}
    tag, items = value.get(TAG), value.get("items")
    if not isinstance(items, list):
        raise ValueError(f"a tagged {tag!r} without items")
    if tag == "tuple":
        return tuple(_restore(item) for item in items)
    if tag == "dict":
        return {_restore(key): _restore(item) for key, item in items}
    raise ValueError(f"an unknown tag {tag!r}")
