"""gunicorn settings for the --preload drain test: Baldur's hook."""

from baldur.adapters.gunicorn import post_worker_init  # noqa: F401

worker_class = "gthread"
threads = 4
graceful_timeout = 20
