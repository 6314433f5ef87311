"""``gunicorn django_app.wsgi`` (see README.md).

Beside it, the app config's ``init()`` starts the admin server: the console
on http://127.0.0.1:9090/ (../README.md, "The console beside it").
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_app.settings")

application = get_wsgi_application()  # runs baldur.init() (the app config)
