"""The admin key when none is configured: made once, at random, into
``BALDUR_DATA_DIR/admin.key`` (mode 0600), where the CLI finds it and
where every process sharing the data directory reads the same one (a
second worker of a pre-forking server must not overwrite the key the
serving one checks)."""

from __future__ import annotations

import errno
import logging
import os
import secrets
import stat

import baldur._events as _events
import baldur._settings as _settings
from baldur._settings import Settings

#: The file's name in the data directory.
KEY_FILE = "admin.key"
#: Owner only: the key opens every destructive action.
PRIVATE_FILE = 0o600
#: A stored key shorter than this is not one Baldur made: a new one is.
_MIN_LENGTH = 32

_log = logging.getLogger("baldur.admin")


def path(settings: Settings) -> str:
    """Where the generated key lives."""
    return os.path.join(settings.data_dir or _settings.default_data_dir(), KEY_FILE)


def configured(settings: Settings) -> bool:
    """Whether the key comes from the configuration (not the file)."""
    return settings.admin_key is not None


def resolve(settings: Settings) -> str:
    """The admin key: the configured one, else the file's (made if missing)."""
    if settings.admin_key is not None:
        return settings.admin_key
    key_path = path(settings)
    stored = _read(key_path)
    if stored is not None:
        return stored
    return _create(key_path)


def _read(key_path: str) -> str | None:
    try:
        info = os.stat(key_path)
        with open(key_path, encoding="ascii") as handle:
            key = handle.read().strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        # Unreadable or not ours: replaced by a fresh one.
        return None
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(key_path, PRIVATE_FILE)
        _events.emit(
            _log,
            logging.WARNING,
            "admin.key_file_narrowed",
            path=key_path,
            detail="the admin key file was readable by others: set to 0600",
        )
    return key if len(key) >= _MIN_LENGTH else None


def _create(key_path: str) -> str:
    """A new key, written to a private temporary file and linked into
    place: two processes starting at once agree on the first one linked."""
    key = secrets.token_urlsafe(32)
    temporary = f"{key_path}.{os.getpid()}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE)
        os.write(descriptor, key.encode("ascii") + b"\n")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    try:
        os.link(temporary, key_path)
    except OSError as error:
        if error.errno != errno.EEXIST:
            raise
        # Another process linked its key first (or a short one lies there).
        theirs = _read(key_path)
        if theirs is not None:
            return theirs
        os.replace(temporary, key_path)
        return key
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return key
