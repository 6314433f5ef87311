"""The admin server's API: every route under ``/api/baldur/``, JSON in and
out, for a request that passed the server's gate (Host, key, role, Origin,
the unlock and the ``CONFIRM`` field are checked before this runs).

Each handler calls the function the Python API offers (``baldur.circuits``,
``baldur.dlq``, ``baldur.kill_switch``, ``baldur.endpoints``): an action
here is the same action as in code. A trailing slash is optional; HEAD is
answered as GET (the server sends no body). Every JSON answer carries
``"served_by": {"pid": ..., "store": "redis" | "memory"}``.

Read routes, as the adapters serve them (``baldur.endpoints``): ``health/``,
``health/live/``, ``health/ready/``, ``health/pool/``, ``health/ping/``,
``metrics/``, ``metrics/json/``, ``dashboard/summary/``. Without a key
(``role`` ``None``) a failing check shows its exception type only; a key
holder also gets its ``message`` (URL passwords hidden).

==================================  =============================================
``GET cb/``                         ``{"breakers": [breaker, ...]}`` by name; a
                                    breaker is ``{"name", "state", "calls",
                                    "failures", "opened_at", "retry_after",
                                    "transitions"}``
``GET cb/NAME/``                    the breaker (this process's, else the
                                    fleet's record in Redis mode); 404
                                    ``{"error": "not_found", "name"}`` for a
                                    name neither knows (nothing made)
``POST cb/NAME/force-open``         body ``{"reason"?, "override"?}``: the
``POST cb/NAME/force-close``        breaker after the action, with ``"action"``
``POST cb/NAME/reset``              and ``"actor"``; 409 ``{"error":
                                    "kill_switch_engaged"}`` while disabled
                                    unless ``"override": true``
``GET dlq/``                        ``?domain=&state=&failure_type=&limit=&cursor=``:
                                    ``{"entries", "next_cursor", "complete",
                                    "unavailable"}``
``GET dlq/stats/``                  ``baldur.dlq.stats()``
``GET dlq/ID/``                     the entry; 404 ``{"error": "not_found", "id"}``
``POST dlq/ID/replay``              ``{"id", "replayed", "ok", "state", "error",
                                    "already_done"}``
``POST dlq/replay``                 body ``{"domain" | "failure_type", "limit"?}``:
                                    ``{"outcomes": [replay, ...], "replayed",
                                    "failed"}``
``POST dlq/ID/redrive``             ``{"id", "redriven": true, "state"}``; 409
                                    ``{"error": "conflict", "state"}`` unless the
                                    entry is in ``needs_review``
``POST dlq/purge``                  body ``{"domain"?, "state"?}`` (one at
                                    least): ``{"purged": n, "domain", "state"}``
``GET bulkheads/``                  ``{"bulkheads": [{"name", "active", "waiting",
                                    "capacity", "max_waiting", "wait_timeout",
                                    "rejected"}], "enabled": true}``
``GET kill-switch/``                ``{"enabled", "reason", "actor", "disabled_at"}``
``POST kill-switch/disable``        body ``{"reason"}`` (required): the status
``POST kill-switch/enable``         the status
``GET leader/``                     ``{"leader_id", "token", "lease_left",
                                    "is_leader"}``: who leads, as the serving
                                    process sees it (``baldur.leader.status()``)
==================================  =============================================

Subsystems not built (or not turned on) answer what there is: ``GET
reports/?days=N`` ``{"reports": [], "enabled": false}``, ``GET
audit/?limit=&after=`` ``{"records": [], "enabled": false}`` while the audit
trail is off, ``GET rate-limits/`` ``{"rate_limits": [], ...}``; every other route of theirs
(``reports/DATE/``, ``audit/verify/`` while off, ``emergency/``,
``governance/``, ``canary/`` and their POSTs) is 404
``{"error": "not_enabled", "subsystem": ...}``.

Refusals: 400 ``{"error": "bad_request", "detail"}`` naming the field, the
value and what is allowed; 404 ``{"error": "not_found"}`` for an unknown
route; 405 ``{"error": "method_not_allowed"}`` with ``Allow``; 503
``{"error": "unavailable", "detail"}`` when a shared store cannot be reached;
500 ``{"error": "internal", "detail": <exception type>}``, logged as
``admin.request_failed`` with the type only (a message may hold a DSN).
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Mapping
from typing import Any

import baldur._control_api_actions as actions
import baldur._events as _events
import baldur.endpoints as endpoints
import baldur.health as health
from baldur._control_api_http import (
    BadRequest,
    Handler,
    Request,
    answer,
    bad_request,
    method_not_allowed,
    not_found,
)
from baldur.endpoints import Response
from baldur.exceptions import ConfigError

PREFIX = "/api/baldur/"
_log = logging.getLogger("baldur.admin")


def _read(path: str) -> Handler:
    """A read route of ``baldur.endpoints``, with ``served_by`` added to its
    JSON and, for a key holder, each failing check's message."""
    serve = endpoints.ROUTES[path]

    def handle(req: Request) -> Response:
        response = serve(req.query)
        if not isinstance(response.payload, Mapping):
            return response  # Prometheus text
        payload = dict(response.payload)
        if req.role is not None and "checks" in payload:  # health/ and health/ready/
            payload["checks"] = _with_messages(payload["checks"])
        return answer(response.status, payload, **dict(response.headers))

    return handle


def _with_messages(checks: Mapping[str, Any]) -> dict[str, Any]:
    # The report the endpoint just served is the cached one (5 s).
    report = health.check_health()
    detailed = {}
    for name, public in checks.items():
        result = report.checks.get(name)
        if result is not None and result.error_type is not None:
            public = {**public, "message": result.detail}
        detailed[name] = public
    return detailed


#: (path pattern under /api/baldur/, {method: handler}); ``{}`` is one
#: segment. A literal route wins over a pattern for the same path.
ROUTES: tuple[tuple[str, Mapping[str, Handler]], ...] = (
    *((path, {"GET": _read(path)}) for path in endpoints.ROUTES),
    ("cb/", {"GET": actions.breakers}),
    ("cb/{}/", {"GET": actions.breaker}),
    ("cb/{}/force-open/", {"POST": actions.force_open}),
    ("cb/{}/force-close/", {"POST": actions.force_close}),
    ("cb/{}/reset/", {"POST": actions.reset}),
    ("dlq/", {"GET": actions.dlq_list}),
    ("dlq/stats/", {"GET": actions.dlq_stats}),
    ("dlq/replay/", {"POST": actions.dlq_replay_batch}),
    ("dlq/purge/", {"POST": actions.dlq_purge}),
    ("dlq/{}/", {"GET": actions.dlq_entry}),
    ("dlq/{}/replay/", {"POST": actions.dlq_replay}),
    ("dlq/{}/redrive/", {"POST": actions.dlq_redrive}),
    ("kill-switch/", {"GET": actions.kill_switch_status}),
    ("kill-switch/disable/", {"POST": actions.kill_switch_disable}),
    ("kill-switch/enable/", {"POST": actions.kill_switch_enable}),
    ("reports/", {"GET": actions.reports}),
    ("reports/{}/", {"GET": actions.report}),
    ("audit/", {"GET": actions.audit}),
    ("audit/verify/", {"GET": actions.audit_verify}),
    ("bulkheads/", {"GET": actions.bulkheads}),
    ("rate-limits/", {"GET": actions.empty_list("rate_limits")}),
    ("leader/", {"GET": actions.leader_status}),
    ("emergency/", {"GET": actions.not_running("emergency")}),
    ("emergency/declare/", {"POST": actions.not_running("emergency")}),
    ("emergency/release/", {"POST": actions.not_running("emergency")}),
    ("governance/", {"GET": actions.not_running("governance")}),
    ("governance/break-glass/", {"POST": actions.not_running("governance")}),
    ("canary/", {"GET": actions.not_running("canary")}),
    ("canary/panic-rollback/", {"POST": actions.not_running("canary")}),
)

#: The routes a request without a key may reach (the gate lets only these through).
PUBLIC = frozenset(path for path in endpoints.ROUTES if path.startswith("health/"))


def _match(pattern: str, segments: list[str]) -> tuple[str, ...] | None:
    parts = pattern.strip("/").split("/")
    if len(parts) != len(segments):
        return None
    params = []
    for part, segment in zip(parts, segments, strict=True):
        if part == "{}":
            if not segment:
                return None
            params.append(urllib.parse.unquote(segment))
        elif part != segment:
            return None
    return tuple(params)


def _find(relative: str) -> list[tuple[str, Mapping[str, Handler], tuple[str, ...]]]:
    """Every route the path matches, literal ones first."""
    segments = relative.strip("/").split("/")
    found = []
    for pattern, methods in ROUTES:
        params = _match(pattern, segments)
        if params is not None:
            found.append((pattern, methods, params))
    return sorted(found, key=lambda match: len(match[2]))


def route(
    method: str, path: str, query: str, body: bytes, *, role: str | None, actor: str | None
) -> Response:
    """Answers one request (``path`` the URL path, ``query`` the raw query
    string) as the route table above says."""
    if not path.startswith(PREFIX) and path + "/" != PREFIX:
        return not_found()
    relative = path[len(PREFIX) :].strip("/") + "/"
    matches = _find(relative) if relative != "/" else []
    if not matches:
        return not_found()
    verb = "GET" if method.upper() == "HEAD" else method.upper()
    for pattern, methods, params in matches:
        handler = methods.get(verb)
        if handler is None:
            continue
        if role is None and pattern not in PUBLIC:
            # The gate answers this first; a slip there must not open a route.
            return answer(401, {"error": "unauthorized"})
        if verb != "GET" and role != "admin":
            return answer(403, {"error": "forbidden"})
        parsed = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        request = Request(verb, params, parsed, body, role, actor)
        return _run(handler, request, pattern)
    allowed = sorted({m for _, methods, _ in matches for m in methods})
    if "GET" in allowed:
        allowed.append("HEAD")
    return method_not_allowed(allowed)


def _run(handler: Handler, request: Request, pattern: str) -> Response:
    try:
        return handler(request)
    except (BadRequest, ConfigError) as refused:
        return bad_request(str(refused))
    except ConnectionError as unreachable:
        # DeadLetterQueueUnavailableError, or Redis refusing the kill
        # switch's record (the local change stands).
        _failed(request, pattern, unreachable)
        return answer(
            503,
            {
                "error": "unavailable",
                "detail": f"{type(unreachable).__name__}: a shared store did not answer",
            },
        )
    except Exception as error:
        _failed(request, pattern, error)
        return answer(500, {"error": "internal", "detail": type(error).__name__})


def _failed(request: Request, pattern: str, error: Exception) -> None:
    # The type only: a message may hold a DSN or an entry's arguments.
    _events.emit(
        _log,
        logging.ERROR,
        "admin.request_failed",
        method=request.method,
        route=pattern,
        error_type=type(error).__name__,
    )
