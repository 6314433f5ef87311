"""``import baldur`` only wires the package together (its floors' signals,
the exit and fork hooks): no file is written, no thread or runtime
started, no setting read, nothing logged."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def test_import_writes_nothing_starts_nothing_and_reads_no_setting(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    script = textwrap.dedent(
        """
        import logging, threading
        logging.basicConfig(level=logging.DEBUG)
        import baldur
        from baldur import _config, _runtime
        print(sorted(t.name for t in threading.enumerate()))
        print(_runtime.status())
        print(_config.applied())
        """
    )
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "BALDUR_DATA_DIR": str(home / "baldur"),
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["['MainThread']", "(False, 0)", "None"]
    assert "baldur" not in result.stderr  # nothing logged under the baldur logger
    assert list(home.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir()] == ["home"]
