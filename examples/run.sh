#!/usr/bin/env bash
# Runs one example checkout service with the flaky payment gateway beside it:
#
#   examples/run.sh flask|django|fastapi
#
# On the default store (no Redis) it serves with one worker process.
# Several workers need a shared store:
#
#   BALDUR_REDIS_URL=redis://localhost:6379/0 WORKERS=3 examples/run.sh django
#
# PORT (8000) and GATEWAY_PORT (8081) pick the ports; PYTHON the interpreter
# that has baldur-framework and the example's extras installed. Ctrl-C (or
# SIGTERM) stops both: the service drains its in-flight checkouts first.
set -euo pipefail
app=${1:-}
case "$app" in
  flask | django | fastapi) ;;
  *) echo "usage: $0 flask|django|fastapi" >&2; exit 2 ;;
esac
workers=${WORKERS:-1}
if [ "$workers" != 1 ] && [ -z "${BALDUR_REDIS_URL:-}" ]; then
  # The default store is per process: idempotency and breakers would diverge.
  echo "WORKERS=$workers needs BALDUR_REDIS_URL (a Redis every worker shares)" >&2
  exit 2
fi
python=${PYTHON:-python3}
port=${PORT:-8000}
gateway_port=${GATEWAY_PORT:-8081}
cd "$(dirname "${BASH_SOURCE[0]}")"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export GATEWAY_URL="http://127.0.0.1:$gateway_port"

"$python" -m gateway --port "$gateway_port" &
gateway=$!
server=""
stop() {
  [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" || true
  kill "$gateway" 2>/dev/null && wait "$gateway" || true
}
trap stop EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

bind="127.0.0.1:$port"
case "$app" in
  flask)
    "$python" -m gunicorn -w "$workers" --threads 4 -b "$bind" flask_app.app:app &
    ;;
  django)
    DJANGO_SETTINGS_MODULE=django_app.settings "$python" -m django migrate --noinput
    "$python" -m gunicorn -w "$workers" --threads 4 -b "$bind" django_app.wsgi &
    ;;
  fastapi)
    "$python" -m uvicorn --host 127.0.0.1 --port "$port" --workers "$workers" fastapi_app.main:app &
    ;;
esac
server=$!
echo "checkout service ($app, $workers worker(s)) on http://$bind; gateway on $GATEWAY_URL"
wait "$server"
