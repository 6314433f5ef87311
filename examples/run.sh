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
#
# Beside the service, Baldur's admin server (started by the app's init()) serves
# the console on 127.0.0.1:9090 (BALDUR_ADMIN_PORT; 0 turns it off), its key in
# BALDUR_DATA_DIR/admin.key unless BALDUR_ADMIN_KEY gives one. Its actions
# (force a breaker, replay the DLQ) need the server unlocked:
#
#   BALDUR_ADMIN_UNLOCK=1 examples/run.sh flask
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
admin_port=${BALDUR_ADMIN_PORT:-9090}
if [ "$admin_port" != 0 ]; then
  data_dir=${BALDUR_DATA_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/baldur}
  key=${BALDUR_ADMIN_KEY:+BALDUR_ADMIN_KEY}
  admin_host=${BALDUR_ADMIN_HOST:-127.0.0.1}
  case "$admin_host" in *:*) admin_host="[$admin_host]" ;; esac
  # The first process to bind the port serves it; if another program holds
  # it, the service runs without one (logged as admin.server_skipped).
  echo "console: http://$admin_host:$admin_port/ (key: ${key:-$data_dir/admin.key})"
fi
wait "$server"
