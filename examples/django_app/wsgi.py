"""``gunicorn django_app.wsgi`` (see README.md)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_app.settings")

application = get_wsgi_application()  # runs baldur.init() (the app config)
