"""scripts/check-glue.py: the check that keeps src/py to converting, run on
small fake glue trees."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check-glue.py"


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("file", "line", "named"),
    [
        ("stores.rs", "static CONFIGURED: Mutex<Option<String>> = Mutex::new(None);", "static"),
        ("dlq.rs", "std::thread::spawn(move || flush());", "thread"),
        ("stores.rs", "let n = py.detach(|| wal.len());", "GIL"),
        ("idempotency.rs", 'EVENT.import(py, "baldur._events", "idempotency_event")', "_events"),
    ],
)
def test_glue_that_does_more_than_convert_fails(
    tmp_path: Path, file: str, line: str, named: str
) -> None:
    (tmp_path / file).write_text(f"fn f() {{\n    {line}\n}}\n")
    answer = check(tmp_path)
    assert answer.returncode == 1
    assert f"{file}:2" in answer.stderr and named in answer.stderr


def test_cached_python_objects_and_the_one_places_pass(tmp_path: Path) -> None:
    cached = "static FULL: PyOnceLock<Py<PyType>> = PyOnceLock::new();\n"
    (tmp_path / "errors.rs").write_text(cached)
    (tmp_path / "gil.rs").write_text("fn without_gil() { py.detach(work) }\n")
    (tmp_path / "events.rs").write_text('fn f() { import(py, "baldur._events", "x") }\n')
    (tmp_path / "attempt.rs").write_text("fn f() { thread::Builder::new(); }\n")
    assert check(tmp_path).returncode == 0


def test_the_project_glue_only_converts() -> None:
    answer = check(SCRIPT.parents[1] / "src" / "py")
    assert answer.returncode == 0, answer.stderr
