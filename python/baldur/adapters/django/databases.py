"""Readiness for Django: every configured database answers."""

from __future__ import annotations

import logging

from django.db import connections

from baldur import _events
from baldur.health import CheckResult


def databases_usable() -> CheckResult:
    """Each alias in ``DATABASES`` must run ``SELECT 1`` (on this thread's
    connection, which Django closes at the end of the request). The public
    detail names each failing alias and its error's type; the message (a
    driver's may quote the DSN) goes to the WARNING log, passwords hidden."""
    failing: dict[str, str] = {}
    for alias in connections:
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as error:  # any driver's error means "not usable"
            failing[alias] = type(error).__name__
            _events.health_event(
                "health.check_failed",
                logging.WARNING,
                check="django.databases",
                alias=alias,
                detail=repr(error),
            )
    if failing:
        detail = "; ".join(f"{alias}: {kind}" for alias, kind in failing.items())
        return CheckResult("unhealthy", detail, {"databases": sorted(failing)})
    return CheckResult("healthy", None, {"databases": sorted(connections)})
