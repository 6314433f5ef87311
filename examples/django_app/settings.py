"""Settings of the Django checkout example. Everything a deployment changes
comes from the environment: ``BALDUR_*`` (``BALDUR_REDIS_URL`` under several
workers), ``GATEWAY_URL``, ``DJANGO_DB``."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    # Its app config runs baldur.init() at startup (no I/O).
    "baldur.adapters.django",
    "django_app",
]

MIDDLEWARE = [
    # First: while the process drains, new requests get 503 + Retry-After.
    "baldur.adapters.django.middleware.BaldurMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "django_app.urls"
WSGI_APPLICATION = "django_app.wsgi.application"

# The orders' truth-of-record: a database, never Baldur's stores.
# health/ready/ answers 200 only while it is usable.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB", str(BASE_DIR / "db.sqlite3")),
        "OPTIONS": {"timeout": 30},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

# Settings of baldur.init(), on top of the BALDUR_* environment variables
# (which give BALDUR_REDIS_URL). The drain ends before gunicorn's graceful
# timeout (30 s) would kill a worker mid-charge.
BALDUR = {"SHUTDOWN_DRAIN_SECONDS": 25}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"baldur": {"handlers": ["console"], "level": "INFO"}},
}
