"""scripts/check-rust-circles.py: the check that keeps src/core and src/py
free of circles of files, run on small fake trees."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check-rust-circles.py"


def check(src: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(src)], capture_output=True, text=True, check=False
    )


def write(src: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_two_files_that_use_each_other_are_a_circle_named_with_what_ties_it(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            "lib.rs": "pub mod py;\n",
            "py/mod.rs": "mod driver;\nmod dead_letter;\n",
            "py/driver.rs": "use crate::py::dead_letter::record;\n",
            "py/dead_letter.rs": "use crate::py::driver::Outcome;\n",
        },
    )
    answer = check(tmp_path)
    assert answer.returncode == 1
    assert "circle of 2 files" in answer.stderr
    assert "driver.rs: Outcome" in answer.stderr
    assert "dead_letter.rs: record" in answer.stderr


def test_a_name_a_folder_re_exports_is_followed_to_its_file(tmp_path: Path) -> None:
    """`crate::core::breaker::Registry` is registry.rs, not breaker/mod.rs:
    a sibling using it through the folder is no circle with mod.rs, but a
    real loop through the re-export is found."""
    write(
        tmp_path,
        {
            "lib.rs": "pub mod core;\n",
            "core/mod.rs": "pub mod breaker;\n",
            "core/breaker/mod.rs": "mod machine;\nmod registry;\n"
            "pub use machine::Machine;\npub use registry::Registry;\n",
            "core/breaker/machine.rs": "pub struct Machine;\n",
            "core/breaker/registry.rs": "use crate::core::breaker::Machine;\n",
        },
    )
    assert check(tmp_path).returncode == 0
    (tmp_path / "core/breaker/machine.rs").write_text("use super::registry::Registry;\n")
    answer = check(tmp_path)
    assert answer.returncode == 1
    assert "machine.rs -> " in answer.stderr and "registry.rs: Registry" in answer.stderr


def test_the_project_itself_has_no_circle() -> None:
    answer = check(SCRIPT.parents[1] / "src")
    assert answer.returncode == 0, answer.stderr
