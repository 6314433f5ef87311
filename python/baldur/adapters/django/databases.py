"""Readiness for Django: every configured database answers."""

from __future__ import annotations

from django.db import connections

from baldur.health import CheckResult


def databases_usable() -> CheckResult:
    """Each alias in ``DATABASES`` must run ``SELECT 1`` (on this thread's
    connection, which Django closes at the end of the request)."""
    failing: dict[str, str] = {}
    for alias in connections:
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as error:  # any driver's error means "not usable"
            failing[alias] = f"{type(error).__name__}: {error}"
    if failing:
        detail = "; ".join(f"{alias}: {why}" for alias, why in failing.items())
        return CheckResult("unhealthy", detail, {"databases": sorted(failing)})
    return CheckResult("healthy", None, {"databases": sorted(connections)})
