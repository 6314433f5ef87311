"""A Celery app wired with Baldur's adapter: protected tasks, one that
always fails (recorded in the DLQ), one slow enough to be in flight at a
warm shutdown."""

from __future__ import annotations

import os
import time
from pathlib import Path

from celery import Celery

from baldur.adapters.celery import protected_task, setup

broker = os.environ["BALDUR_REDIS_URL"]
app = Celery("celery_tasks", broker=broker, backend=broker)
setup(app)
MARKERS = Path(os.environ["BALDUR_DATA_DIR"])


@protected_task(app, "celery-receipts", dlq=True, task_options={"name": "send_receipt"})
def send_receipt(order_id: str) -> str:
    raise ConnectionError(f"mail server down for {order_id}")


@protected_task(app, "celery-slow", task_options={"name": "slow_charge"})
def slow_charge(order_id: str) -> str:
    (MARKERS / f"started-{order_id}").touch()
    time.sleep(2.0)
    return f"charged {order_id}"
