"""The check that keeps python/baldur in floors (scripts/check-python-imports.py):
it passes on the package, and fails on a package that imports upward, in a
circle, or holds a module on no floor."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "check-python-imports.py"


def check(package: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(package)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def fake_package(tmp_path: Path, modules: dict[str, str]) -> Path:
    """A package named like Baldur's (the floor table names its modules),
    holding only ``modules``: name -> source."""
    package = tmp_path / "baldur"
    for name, source in {"__init__": "", **modules}.items():
        path = package.joinpath(*name.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return package


def test_baldur_stands_in_floors() -> None:
    result = check(ROOT / "python" / "baldur")
    assert result.returncode == 0, result.stderr
    assert "none imports upward or in a circle" in result.stdout


def test_downward_imports_pass(tmp_path: Path) -> None:
    package = fake_package(
        tmp_path,
        {
            "_bus": "",
            "_events": "from baldur import _bus\n",
            "health": "from baldur import _events\nfrom baldur._bus import publish\n",
            # The wiring imports every floor; `from baldur import x` below it
            # is an import of x, not of the package's __init__.
            "__init__": "from baldur import _bus, health\n",
        },
    )
    result = check(package)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("modules", "problem"),
    [
        pytest.param(
            {"_bus": "from baldur import health\n", "health": "", "_events": ""},
            "baldur._bus (signals) imports baldur.health (reports), a higher floor",
            id="upward",
        ),
        pytest.param(
            # ruff refuses these too (PLC0415); the check does not rely on it.
            {
                "_config": "def apply():\n    from baldur.kill_switch import restore\n",
                "kill_switch": "",
            },
            "baldur._config (configuration) imports baldur.kill_switch (features)",
            id="upward-inside-a-function",
        ),
        pytest.param(
            {"_zones": "from baldur import protected\n"},
            "baldur._zones (policy) imports baldur (wiring)",
            id="a-name-taken-from-the-package",
        ),
        pytest.param(
            {"_bus": "", "bulkhead": "from baldur import _bus\n"},
            "(baldur.bulkhead) stands on no floor",
            id="on-no-floor",
        ),
        pytest.param(
            {
                "metrics": "from baldur import _collector\n",
                "_collector": "from baldur import metrics\n",
            },
            "import circle: baldur._collector -> baldur.metrics",
            id="circle-on-one-floor",
        ),
    ],
)
def test_what_breaks_the_floors_fails(
    tmp_path: Path, modules: dict[str, str], problem: str
) -> None:
    result = check(fake_package(tmp_path, modules))
    assert result.returncode == 1
    assert problem in result.stderr
