#!/usr/bin/env bash
# Quick start, command 2: every test and lint Baldur has. CI runs exactly this.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
step() { printf '\n== %s\n' "$*"; }

step "install into .venv (pip install '.[all,dev,bench]')"
scripts/bootstrap.sh
rustup component add clippy rustfmt >/dev/null 2>&1 || true
export PATH="$root/.venv/bin:$PATH"

step "the core is pure Rust, in layers that import only downward; no circle of Rust files; the glue only converts"
scripts/check-core-purity.sh
python scripts/check-core-layers.py src/core
python scripts/check-rust-circles.py src
python scripts/check-glue.py src/py

step "cargo fmt --check"
cargo fmt --check

step "cargo test (core, no pyo3)"
cargo test --all-targets --quiet

step "cargo test --doc"
cargo test --doc --quiet

step "cargo clippy (core, and with the python bindings)"
cargo clippy --all-targets --quiet -- -D warnings
cargo clippy --all-targets --features python --quiet -- -D warnings

step "ruff"
ruff check python tests_py benches examples
ruff format --check python tests_py benches examples

step "python/baldur in floors that import only downward (no circle)"
python scripts/check-python-imports.py python/baldur

step "mypy --strict (package) and stubtest (compiled module)"
mypy python/baldur examples
python -m mypy.stubtest baldur._core --allowlist scripts/stubtest-allowlist.txt

step "pytest"
python -m pytest

step "pytest on Python 3.10, the oldest the abi3 wheel supports"
scripts/test-oldest-python.sh
