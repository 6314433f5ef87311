"""A module that tells (in the file ``BALDUR_TEST_TRAP``) when it is
imported and when anything is looked up in it: a DLQ replay may import an
entry's module and look no further, and with a signing key does not even
import the module of an entry whose signature fails."""

from __future__ import annotations

import os

_TRAP = os.environ.get("BALDUR_TEST_TRAP", "")


def _mark(what: str) -> None:
    if _TRAP:
        with open(_TRAP, "a") as out:
            out.write(what + "\n")


_mark("imported")


def __getattr__(name: str) -> object:
    _mark(f"looked up {name}")
    raise AttributeError(name)
