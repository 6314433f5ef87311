#!/usr/bin/env bash
# The same abi3 wheel, tested on the oldest Python it claims (3.10): the
# async timeout path differs there (no asyncio.timeout).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

oldest=""
for candidate in python3.10 /root/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
    oldest="$(command -v "$candidate")"
    break
  fi
done
if [ -z "$oldest" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "Python 3.10 not found: CI must test the oldest supported Python" >&2
    exit 1
  fi
  echo "SKIPPED: Python 3.10 not found on this machine (CI requires it)"
  exit 0
fi

rm -rf target/wheels
.venv/bin/maturin build --release --quiet -o target/wheels
if [ ! -x .venv310/bin/python ]; then
  "$oldest" -m venv .venv310
fi
.venv310/bin/python -m pip install --quiet --upgrade pip
wheel=$(ls target/wheels/*.whl)
.venv310/bin/python -m pip install --quiet --force-reinstall --no-deps "$wheel"
.venv310/bin/python -m pip install --quiet "${wheel}[all,dev]"
.venv310/bin/python -m pytest -q -p no:cacheprovider
