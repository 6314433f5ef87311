"""A TCP proxy in front of a test server that can turn into a black hole:
connections are still accepted and whatever is sent is read, but nothing
ever comes back (a server that stops answering, a network path that drops
packets: the failure a client's default timeouts wait a minute for)."""

from __future__ import annotations

import contextlib
import socket
import threading


class BlackHoleProxy:
    """Forwards 127.0.0.1:``port`` to ``target_port`` until :meth:`swallow`;
    from then on it answers nothing, on old connections and new ones alike."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.silent = threading.Event()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True, name="blackhole-accept").start()

    def url(self, scheme: str = "redis") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/0"

    def swallow(self) -> None:
        """From now on nothing comes back."""
        self.silent.set()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            for sock in [self._listener, *self._sockets]:
                with contextlib.suppress(OSError):
                    sock.close()

    def _keep(self, sock: socket.socket) -> None:
        with self._lock:
            if self._closed.is_set():
                # Accepted as close() ran: no one else would close it.
                sock.close()
                return
            self._sockets.append(sock)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._keep(client)
            upstream = None
            if not self.silent.is_set():
                try:
                    upstream = socket.create_connection(("127.0.0.1", self.target_port), 2)
                    self._keep(upstream)
                except OSError:
                    upstream = None
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            if upstream is not None:
                threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket | None) -> None:
        while not self._closed.is_set():
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            if sink is None or self.silent.is_set():
                continue  # swallowed: read, never answered
            try:
                sink.sendall(data)
            except OSError:
                return
