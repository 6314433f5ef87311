#!/usr/bin/env bash
# Quick start, command 1: install Baldur into .venv/ and run the demo.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BALDUR_EXTRAS="${BALDUR_EXTRAS:-dev}" "$root/scripts/bootstrap.sh"
exec "$root/.venv/bin/python" -m baldur.demo
