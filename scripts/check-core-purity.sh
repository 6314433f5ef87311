#!/usr/bin/env bash
# The core never touches Python: no pyo3 in src/core, and it builds and tests
# without the `python` feature (test.sh runs `cargo test` without it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if grep -rnE --include='*.rs' '^\s*(use|extern crate)\s+pyo3|pyo3(_[a-z_]+)?::' src/core; then
  echo "src/core must not use pyo3 or Python (lines above)" >&2
  exit 1
fi
echo "src/core is pure Rust"
