#!/usr/bin/env bash
# Makes .venv/ with Baldur installed from this checkout (pip install ".[all,dev,bench]")
# and the Rust toolchain's lint components. Sourced by demo.sh and test.sh;
# safe to run again: pip rebuilds only what changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# The Redis tests start their own redis-server (never the machine's 6379).
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
  else
    echo "redis-server is missing and cannot be installed here (apt-get as root)" >&2
  fi
fi

# The web console's tests drive Debian's chromium through Playwright (whose
# own browser download cannot run here); a machine without it fails them.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing and cannot be installed here (apt-get as root)" >&2
  fi
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# A real (non-editable) install: the tests exercise what users get.
.venv/bin/python -m pip install --quiet ".[${BALDUR_EXTRAS:-all,dev,bench}]"

# promtool (Prometheus's own checker) validates Baldur's exposition text in
# the tests. Only the binary is taken from Debian's prometheus package
# (~2 s: download and unpack, no server installed or started).
if [ ! -x .venv/bin/promtool ] && ! command -v promtool >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1; then
    scratch="$(mktemp -d)"
    if (cd "$scratch" && apt-get download -qq prometheus >/dev/null 2>&1 \
        && dpkg-deb -x prometheus_*.deb unpacked); then
      cp "$scratch/unpacked/usr/bin/promtool" .venv/bin/promtool
    else
      echo "promtool could not be fetched (apt-get download prometheus)" >&2
    fi
    rm -rf "$scratch"
  fi
fi
