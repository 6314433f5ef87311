"""A local HTTP server standing in for Slack and a JSON webhook: it
records every POST and answers what a test scripted (200 by default)."""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Records every POST by path; answers each path's scripted replies in
    order, then 200."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._posts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._replies: dict[str, deque[tuple[int, dict[str, str]]]] = defaultdict(deque)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                with receiver._lock:
                    receiver._posts[self.path].append(body)
                    replies = receiver._replies[self.path]
                    status, headers = replies.popleft() if replies else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the test reads what was posted

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        """The URL of ``path`` (a webhook's secret-bearing path)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def reply(self, path: str, status: int, **headers: str) -> None:
        """The next POST to ``path`` gets ``status`` (and ``headers``)."""
        with self._lock:
            self._replies[path].append(
                (status, {k.replace("_", "-"): v for k, v in headers.items()})
            )

    def posts(self, path: str) -> list[dict[str, Any]]:
        """Every body POSTed to ``path`` so far."""
        with self._lock:
            return list(self._posts[path])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
