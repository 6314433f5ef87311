"""Flask: ``Baldur(app)``, or ``ext = Baldur()`` then ``ext.init_app(app)``
in an app factory. Runs ``baldur.init()`` with the app's ``BALDUR_*``
config keys on top of the environment, registers the endpoints under
``/api/baldur``, refuses new requests with 503 + ``Retry-After`` while the
process drains (and answers a full dead-letter queue's refusal the same
way), and counts requests per route for the metrics."""

from __future__ import annotations

import time
from collections.abc import Callable

from baldur.adapters._requires import require

require("flask", "flask")

from flask import Blueprint, Flask, Response, g, request  # noqa: E402

from baldur import endpoints, metrics  # noqa: E402
from baldur.adapters import _serving  # noqa: E402
from baldur.exceptions import DeadLetterQueueFullError  # noqa: E402


def to_flask(answer: endpoints.Response) -> Response:
    response = Response(answer.body, status=answer.status, content_type=answer.content_type)
    for name, value in answer.headers.items():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _blueprint() -> Blueprint:
    blueprint = Blueprint("baldur", __name__, url_prefix="/api/baldur")

    def endpoint(path: str) -> Callable[[], Response]:
        def answer() -> Response:
            return to_flask(
                endpoints.dispatch(
                    path,
                    dict(request.args.items()),
                    key=request.headers.get(endpoints.KEY_HEADER),
                )
            )

        return answer

    for path, name in _serving.ROUTES:
        # Read-only: GET and HEAD, no automatic OPTIONS (405 with ``Allow``).
        blueprint.add_url_rule(
            "/" + path,
            name,
            endpoint(path),
            methods=list(_serving.METHODS),
            provide_automatic_options=False,
        )
    return blueprint


def _refuse_while_draining() -> Response | None:
    g.baldur_started = time.perf_counter()
    if _serving.served_while_draining(request.path):
        return None
    answer = endpoints.shutdown_refusal()
    return None if answer is None else to_flask(answer)


def _dead_letter_queue_full(_: DeadLetterQueueFullError) -> Response:
    return to_flask(endpoints.dead_letter_queue_full())


def _count(response: Response) -> Response:
    started = g.get("baldur_started")
    if started is not None:
        rule = request.url_rule.rule if request.url_rule is not None else None
        metrics.record_request(
            request.method, rule, response.status_code, time.perf_counter() - started
        )
    return response


class Baldur:
    """The Flask extension. ``overrides`` win over the app's ``BALDUR_*``
    config, which wins over the environment."""

    def __init__(self, app: Flask | None = None, **overrides: object) -> None:
        self.overrides = overrides
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if "baldur" in app.extensions:
            return
        _serving.start({**_serving.prefixed_settings(app.config), **self.overrides})
        app.register_blueprint(_blueprint())
        app.before_request(_refuse_while_draining)
        app.after_request(_count)
        app.register_error_handler(DeadLetterQueueFullError, _dead_letter_queue_full)
        app.extensions["baldur"] = self
