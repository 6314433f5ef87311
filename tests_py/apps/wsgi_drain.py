"""A Flask app served by gunicorn --preload with Baldur's gunicorn hook:
one slow protected endpoint to be in flight when SIGTERM arrives."""

from __future__ import annotations

import os
import time
from pathlib import Path

from flask import Flask

import baldur
from baldur.adapters.flask import Baldur

app = Flask(__name__)
Baldur(app)
MARKERS = Path(os.environ["BALDUR_DATA_DIR"])


@baldur.protected("wsgi-drain")
def slow_charge(order: str) -> str:
    (MARKERS / f"started-{order}").touch()
    time.sleep(2.0)
    return f"charged {order}"


@app.get("/charge/<order>")
def charge(order: str) -> str:
    return slow_charge(order)
