"""A missing framework: the adapter's import says which extra to install."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("adapter", "framework"),
    [("django", "django"), ("fastapi", "fastapi"), ("flask", "flask"), ("celery", "celery")],
)
def test_a_missing_framework_names_its_extra(adapter: str, framework: str) -> None:
    probe = (
        f"import sys; sys.modules[{framework!r}] = None\n"
        "try:\n"
        f"    import baldur.adapters.{adapter}\n"
        "except ModuleNotFoundError as missing:\n"
        "    print(missing)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f'pip install "baldur-framework[{adapter}]"' in done.stdout
