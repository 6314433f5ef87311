"""A Celery app run with the prefork pool: Baldur is used in the worker's
parent process before the pool processes are forked."""

from __future__ import annotations

import os

from celery import Celery

import baldur

baldur.init()
broker = os.environ["BALDUR_REDIS_URL"]
app = Celery("celery_fork", broker=broker, backend=broker)


@baldur.protected("fork-celery", retry=True, idempotency_key="key")
def charge(key: str) -> str:
    return f"{os.getpid()}:{key}"


charge(f"parent-{os.getpid()}")  # live before the pool forks


@app.task(name="charge")
def charge_task(key: str) -> str:
    try:
        return charge(key)
    except baldur.IdempotencyDuplicateError:
        return "duplicate"
