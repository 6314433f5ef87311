"""The advice a missing framework gets: the extra that installs it."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str) -> ModuleType:
    """Imports ``module``, or raises ``ModuleNotFoundError`` naming the extra
    that installs it (quoted, for zsh and fish)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as missing:
        if missing.name is None or missing.name.split(".")[0] != module.split(".")[0]:
            raise  # something else is missing: not ours to explain
        raise ModuleNotFoundError(
            f"baldur.adapters.{extra} needs {module!r}, which is not installed. "
            f'Install the extra: pip install "baldur-framework[{extra}]"',
            name=missing.name,
        ) from missing
