#!/usr/bin/env bash
# Makes .venv/ with Baldur installed from this checkout (pip install ".[all,dev,bench]")
# and the Rust toolchain's lint components. Sourced by demo.sh and test.sh;
# safe to run again: pip rebuilds only what changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# A real (non-editable) install: the tests exercise what users get.
.venv/bin/python -m pip install --quiet ".[${BALDUR_EXTRAS:-all,dev,bench}]"
