"""``gunicorn django_app.wsgi`` (see README.md)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from shop.drain_first import hold_server_stop_until_drained

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_app.settings")

application = get_wsgi_application()  # runs baldur.init() (the app config)
hold_server_stop_until_drained()
