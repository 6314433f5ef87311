"""Django: add ``"baldur.adapters.django"`` to ``INSTALLED_APPS``.

- Its app config runs ``baldur.init()`` at startup (no I/O), with
  ``settings.BALDUR = {"REDIS_URL": ..., "CB_FAILURE_THRESHOLD": 5}`` on top
  of the ``BALDUR_*`` environment, and chains Baldur's SIGTERM handler.
- ``path("api/baldur/", include("baldur.adapters.django.urls"))`` serves the
  health endpoints, metrics and the dashboard summary (namespace
  ``baldur``: ``reverse("baldur:ready")``); readiness also requires every
  configured database connection to be usable.
- ``"baldur.adapters.django.middleware.BaldurMiddleware"`` (first in
  ``MIDDLEWARE``) answers 503 + ``Retry-After`` to new requests while the
  process drains, and counts requests per route for the metrics.
"""

from baldur.adapters._requires import require

require("django", "django")
