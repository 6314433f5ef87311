"""The data directory holds call arguments (the DLQ) and pending writes (the
write-ahead log): it is 0700 and every file Baldur writes there 0600, and
one that cannot be used is a ConfigError at init(), never a silent
"protection off"."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import baldur
from baldur import _core
from helpers import AlwaysFails

Configure = Callable[..., None]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """What most processes run with: files 0644, directories 0755."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture(autouse=True)
def enabled_again() -> Iterator[None]:
    yield
    baldur.enable()


def test_the_dlq_its_companions_and_the_directory_are_private(
    configure: Configure, tmp_path: Path, zone_name: str
) -> None:
    data = tmp_path / "new" / "baldur"
    configure(data_dir=str(data))
    baldur.protect(zone_name, AlwaysFails(), fallback=lambda: None, dlq=True)
    assert len(baldur.dlq.list(domain=zone_name)) == 1  # written, so SQLite made its files
    assert mode(data) == 0o700
    files = sorted(p.name for p in data.iterdir())
    assert "dlq.sqlite3" in files and "dlq.sqlite3-wal" in files
    assert {name: mode(data / name) for name in files} == dict.fromkeys(files, 0o600)


def test_the_write_ahead_log_is_private(configure: Configure, tmp_path: Path) -> None:
    configure(data_dir=str(tmp_path / "d"), redis_url="redis://127.0.0.1:1/0")
    assert _core.wal_pending() == 0  # opens the log
    files = sorted(p.name for p in (tmp_path / "d").iterdir())
    assert "redis-wal.sqlite3" in files
    assert {name: mode(tmp_path / "d" / name) for name in files} == dict.fromkeys(files, 0o600)


def test_the_kill_switch_record_is_private(configure: Configure, tmp_path: Path) -> None:
    configure(data_dir=str(tmp_path / "d"))
    baldur.disable(reason="incident 4711", actor="alice")
    assert mode(tmp_path / "d") == 0o700
    assert mode(tmp_path / "d" / "kill-switch.json") == 0o600


def test_a_queue_left_readable_by_an_older_version_is_narrowed(
    configure: Configure, tmp_path: Path, zone_name: str
) -> None:
    data = tmp_path / "d"
    data.mkdir(mode=0o700)
    for name in ("dlq.sqlite3", "dlq.sqlite3-wal"):
        (data / name).touch(mode=0o644)
    configure(data_dir=str(data))
    baldur.protect(zone_name, AlwaysFails(), fallback=lambda: None, dlq=True)
    assert mode(data / "dlq.sqlite3") == 0o600
    assert mode(data / "dlq.sqlite3-wal") == 0o600


def test_the_default_directory_left_open_is_narrowed(
    monkeypatch: pytest.MonkeyPatch, configure: Configure, tmp_path: Path
) -> None:
    monkeypatch.delenv("BALDUR_DATA_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    (tmp_path / "baldur").mkdir(mode=0o755)
    configure()
    assert mode(tmp_path / "baldur") == 0o700


def test_a_named_directory_left_open_is_reported_not_changed(
    configure: Configure, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """It may be shared with other software, which a chmod would break; the
    files in it are 0600 anyway."""
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    with caplog.at_level(logging.WARNING, logger="baldur"):
        configure(data_dir=str(shared))
    assert mode(shared) == 0o755
    reported = [r for r in caplog.records if getattr(r, "event", None) == "config.data_dir_exposed"]
    assert len(reported) == 1 and str(shared) in reported[0].getMessage()


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_a_data_dir_that_cannot_be_used_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, where: str
) -> None:
    (tmp_path / "file").write_text("not a directory")
    path = tmp_path / "file" if where == "a file" else tmp_path / "file" / "baldur"
    monkeypatch.setenv("BALDUR_DATA_DIR", str(path))
    with pytest.raises(baldur.ConfigError) as caught:
        baldur.init()
    assert caught.value.key == "BALDUR_DATA_DIR"
    assert str(path) in str(caught.value)
    assert "directory" in str(caught.value)


def test_a_data_dir_given_to_init_names_the_keyword(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(baldur.ConfigError) as caught:
        baldur.init(data_dir=str(tmp_path / "file"))
    assert caught.value.key == "data_dir"


def test_an_unusable_data_dir_leaves_protection_on(
    monkeypatch: pytest.MonkeyPatch, configure: Configure, tmp_path: Path
) -> None:
    """Before, the kill switch read its record there, failed, and read
    "disabled": every protection silently off."""
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("BALDUR_DATA_DIR", str(tmp_path / "file"))
    with pytest.raises(baldur.ConfigError):
        baldur.init()
    assert baldur.is_baldur_enabled()
