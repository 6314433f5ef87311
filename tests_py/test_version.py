"""One version, Cargo's: the wheel's metadata and ``baldur.__version__``
read it, so a release bumps one line."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import baldur

CARGO = Path(__file__).resolve().parents[1] / "Cargo.toml"


def test_the_version_is_cargos_everywhere() -> None:
    cargo = re.search(r'^version = "([^"]+)"', CARGO.read_text(), re.MULTILINE)
    assert cargo is not None
    assert baldur.__version__ == cargo.group(1)
    assert importlib.metadata.version("baldur-framework") == cargo.group(1)
