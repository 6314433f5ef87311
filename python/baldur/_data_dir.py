"""The data directory (``BALDUR_DATA_DIR``): what must survive a restart,
the dead-letter queue (call arguments in clear), the write-ahead log and
the kill switch's record. Only its owner may read it: Baldur creates the
directory 0700, and the Rust core creates each SQLite file 0600 before
SQLite opens it (their ``-wal``/``-shm``/``-journal`` companions take the
main file's mode); the kill switch's record is written 0600 too.

A directory that already exists with wider permissions is narrowed when it
is Baldur's own (the default one), and reported with a WARNING when the
user named it: that one may be shared with other software, which a chmod
would break, and the files in it are 0600 whatever the directory's mode.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import tempfile

import baldur._events as _events
from baldur.exceptions import ConfigError

#: The directory's mode: its owner alone.
PRIVATE_DIR = 0o700

_log = logging.getLogger("baldur.config")
#: What was already reported in this process (init() runs once per adapter).
_reported: set[tuple[str, str]] = set()


def check(key: str, path: str) -> str:
    """A directory the user named (``key``): created 0700 if missing, and a
    :class:`ConfigError` unless Baldur can write there."""
    try:
        _usable(path)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(
            key, path, f"a directory Baldur can create and write to (here: {reason})"
        ) from None
    return path


def secure(path: str, *, named: bool) -> None:
    """At ``init()``, once the settings are valid: the default directory
    created (an ERROR event, not an exception, when it cannot be: the app
    may never need it), and a directory open to others narrowed or
    reported (see the module's docs)."""
    if not named:
        try:
            _usable(path)
        except OSError as error:
            _once(path, logging.ERROR, "config.data_dir_error", path=path, detail=str(error))
            return
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return
    if mode & 0o077 == 0:
        return
    if named:
        _once(
            path,
            logging.WARNING,
            "config.data_dir_exposed",
            path=path,
            mode=oct(mode),
            detail="readable by others; Baldur's files in it are 0600, "
            "chmod 700 the directory to hide their names too",
        )
        return
    try:
        os.chmod(path, mode & PRIVATE_DIR)
    except OSError as error:
        _once(path, logging.WARNING, "config.data_dir_exposed", path=path, detail=str(error))


def _usable(path: str) -> None:
    """Raises ``OSError`` unless ``path`` is (now) a directory Baldur can
    write to: created 0700 if missing (its parents with the usual mode)."""
    if not os.path.isdir(path):
        if os.path.lexists(path):
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        try:
            os.mkdir(path, PRIVATE_DIR)
        except FileExistsError:
            if not os.path.isdir(path):
                raise
    # Tried, not guessed from the mode bits: root, ACLs and read-only
    # mounts all answer here.
    fd, probe = tempfile.mkstemp(prefix=".baldur-probe-", dir=path)
    os.close(fd)
    os.remove(probe)


def _once(where: str, level: int, event: str, **fields: object) -> None:
    if (event, where) in _reported:
        return
    _reported.add((event, where))
    _events.emit(_log, level, event, **fields)
