"""The app config: Baldur's startup wiring for Django."""

from __future__ import annotations

from collections.abc import Mapping

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from baldur import health
from baldur.adapters import _serving
from baldur.adapters.django.databases import databases_usable


class BaldurConfig(AppConfig):
    name = "baldur.adapters.django"
    label = "baldur"
    verbose_name = "Baldur"

    def ready(self) -> None:
        overrides = getattr(settings, "BALDUR", {})
        if not isinstance(overrides, Mapping):
            raise ImproperlyConfigured(
                f"settings.BALDUR must be a dict of Baldur settings, not {type(overrides).__name__}"
            )
        _serving.start(overrides)
        health.register_check("django.databases", databases_usable, readiness=True)
