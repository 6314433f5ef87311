"""Calling the control API as the admin server calls it
(``baldur._control_api.route``), for the control API's tests."""

from __future__ import annotations

import json
import os
from typing import Any

import baldur._control_api as control_api

API = "/api/baldur/"


class Answer:
    """One response, decoded."""

    def __init__(self, method: str, path: str, query: str, body: bytes, role: str | None) -> None:
        response = control_api.route(
            method, path, query, body, role=role, actor=None if role is None else f"{role}:tester"
        )
        self.status = response.status
        self.headers = dict(response.headers)
        self.raw = response.body
        self.json: Any = json.loads(self.raw) if response.payload is not None else None


def get(path: str, query: str = "", *, role: str | None = "admin") -> Answer:
    return Answer("GET", API + path, query, b"", role)


def post(path: str, body: object = None, *, role: str | None = "admin") -> Answer:
    document = {"confirm": "CONFIRM", **(body or {})}  # type: ignore[dict-item]
    return Answer("POST", API + path, "", json.dumps(document).encode(), role)


def post_raw(path: str, raw: bytes) -> Answer:
    return Answer("POST", API + path, "", raw, "admin")


def served_by_this_process(answer: Answer) -> None:
    assert answer.json["served_by"] == {"pid": os.getpid(), "store": "memory"}
