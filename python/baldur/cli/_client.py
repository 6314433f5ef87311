"""The CLI's side of the wire: where the admin server is, which key to send,
one request, and what its answer means as an exit status.

Only the standard library (``urllib.request``): the CLI runs wherever the
package is installed, extras or not. Redirects are not followed and proxies
from the environment are not used: either would carry the admin key to a
host the operator never named.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from baldur._settings import default_data_dir

DEFAULT_URL = "http://127.0.0.1:9090"
#: Seconds to connect and to wait for an answer; a replay calls the
#: function again, and may take as long as it does.
TIMEOUT = 5.0
SLOW_TIMEOUT = 60.0

OK, FAILED, USAGE, REFUSED, UNREACHABLE = 0, 1, 2, 3, 4


class CliError(Exception):
    """A request that did not do its job: the message a person reads and the
    exit status. ``text`` is the server's JSON answer as sent, when it sent
    one (``--json`` prints it)."""

    def __init__(self, message: str, status: int, text: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.text = text


@dataclass(frozen=True)
class Target:
    """Where to send requests and with which credentials."""

    url: str
    key: str | None
    #: Where the key was looked for, for the message of a refusal.
    key_source: str
    actor: str

    def request(
        self,
        method: str,
        route: str,
        *,
        query: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        timeout: float = TIMEOUT,
        tolerate: tuple[int, ...] = (),
    ) -> tuple[int, Any, str]:
        """``method`` on ``/api/baldur/{route}``: (HTTP status, parsed JSON,
        the body as received). A refusal, an error status (but those in
        ``tolerate``) or no server at all raises :class:`CliError` with its
        exit status."""
        address = f"{self.url}/api/baldur/{route}"
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            address += "?" + urllib.parse.urlencode(params)
        headers = {"Accept": "application/json", "X-Baldur-Actor": self.actor}
        if self.key:
            headers["X-Baldur-Key"] = self.key
        data = None
        if method == "POST":
            data = json.dumps(body or {}).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(address, data=data, headers=headers, method=method)
        try:
            with _OPENER.open(req, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise self._unreachable(error, timeout) from None
        text = raw.decode("utf-8", "replace")
        try:
            answer = json.loads(text)
        except ValueError:
            raise CliError(
                f"{self.url} answered HTTP {status} with something other than JSON: "
                "is it Baldur's admin server?",
                FAILED,
            ) from None
        if status >= 400 and status not in tolerate:
            raise CliError(self._refusal(status, answer), _exit_status(status), text)
        return status, answer, text

    def _unreachable(self, error: BaseException, timeout: float) -> CliError:
        reason = getattr(error, "reason", error)
        if isinstance(reason, (socket.timeout, TimeoutError)):
            why = f"no answer within {timeout:g} s (if this was an action, check its outcome)"
        else:
            why = str(reason) or type(reason).__name__
        return CliError(
            f"no admin server answered at {self.url} ({why}). Start the app with its admin "
            "server on (BALDUR_ADMIN_PORT), or point the CLI at it with --url or "
            "BALDUR_ADMIN_URL.",
            UNREACHABLE,
        )

    def _refusal(self, status: int, answer: Any) -> str:
        error = answer.get("error") if isinstance(answer, dict) else None
        if status == 401:
            return (
                f"refused (401): the server did not accept the admin key ({self.key_source}). "
                "Pass --key, set BALDUR_ADMIN_KEY, or read the key the server wrote to "
                "admin.key in its BALDUR_DATA_DIR."
            )
        if error == "locked":
            return (
                "refused (403 locked): destructive actions are locked on this server. "
                "Run the server with BALDUR_ADMIN_UNLOCK=1 to allow them."
            )
        if error == "forbidden":
            return "refused (403): this key is a viewer key; the action needs the admin key."
        if error == "host_not_allowed":
            return (
                f"refused (403): the server does not accept the host of {self.url}; "
                "list it in BALDUR_ADMIN_ALLOWED_HOSTS on the server."
            )
        if error == "origin_not_allowed":
            return "refused (403): the server refused the request's Origin."
        if error == "not_enabled":
            subsystem = answer.get("subsystem", "this subsystem")
            return f"{subsystem} is not enabled on this server ({status})."
        if error == "not_found":
            what = answer.get("name") or answer.get("id")
            return f"not found ({status})" + (f": {what!r}." if what else ".")
        if error == "kill_switch_engaged":
            return (
                f"refused ({status}): Baldur is disabled (kill switch); "
                "enable it first, or pass --override."
            )
        if error == "conflict":
            return f"conflict ({status}): the entry is {answer.get('state')}, not needs_review."
        detail = answer.get("detail") or error if isinstance(answer, dict) else None
        return f"the server answered {status}" + (f": {detail}" if detail else ".")


def _exit_status(status: int) -> int:
    return REFUSED if status in (401, 403) else FAILED


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx is then an HTTPError: the key stays here


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def resolve_url(given: str | None) -> str:
    """``--url``, else ``BALDUR_ADMIN_URL``, else the default; a ValueError
    for what is not an http(s) URL."""
    url = (given or os.environ.get("BALDUR_ADMIN_URL") or DEFAULT_URL).strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--url {url!r} is not an http:// or https:// URL")
    return url


def resolve_key(given: str | None) -> tuple[str | None, str]:
    """``--key``, else ``BALDUR_ADMIN_KEY``, else the ``admin.key`` file the
    server wrote: (the key or None, where it came from)."""
    if given:
        return given, "from --key"
    if os.environ.get("BALDUR_ADMIN_KEY"):
        return os.environ["BALDUR_ADMIN_KEY"], "from BALDUR_ADMIN_KEY"
    path = key_file()
    try:
        with open(path, encoding="utf-8") as file:
            key = file.read().strip()
    except OSError as error:
        return None, f"none given, and {path} could not be read: {error.strerror}"
    return (key or None), f"from {path}"


def key_file() -> str:
    """Where a server with no configured key writes the one it made."""
    return os.path.join(os.environ.get("BALDUR_DATA_DIR") or default_data_dir(), "admin.key")
