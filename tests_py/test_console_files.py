"""The console's page and static files, as ``baldur._console.page`` serves
them: only an allowlist, nothing by path, and a page the server's strict CSP
lets run (no inline script or style anywhere)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib import resources

import pytest

from baldur import _console

FILES = resources.files("baldur").joinpath("_console_files")


def _text(name: str) -> str:
    return FILES.joinpath(name).read_text(encoding="utf-8")


class _Page(HTMLParser):
    """Every tag of the page with its attributes, and the text inside
    ``<script>`` and ``<style>`` elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._open = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None and data.strip():
            self.inline.append(f"<{self._open}>{data.strip()[:60]}")


def _page() -> _Page:
    parsed = _Page()
    parsed.feed(_text("index.html"))
    return parsed


def test_the_page_answers_get_and_head_at_the_root() -> None:
    for method in ("GET", "HEAD"):
        response = _console.page(method, "/")
        assert response is not None
        assert response.status == 200
        assert response.content_type == "text/html; charset=utf-8"
        assert b'<script src="/static/console.js"' in response.body


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("console.js", "text/javascript; charset=utf-8"),
        ("console.css", "text/css; charset=utf-8"),
    ],
)
def test_each_static_file_has_its_content_type(name: str, content_type: str) -> None:
    response = _console.page("GET", f"/static/{name}")
    assert response is not None
    assert response.status == 200
    assert response.content_type == content_type
    assert response.body == FILES.joinpath(name).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/static/../admin.key",
        "/static/../../admin.key",
        "/static/..%2F..%2Fadmin.key",
        "/static/%2e%2e/__init__.py",
        "/static//etc/passwd",
        "/static/./console.js",
        "/static/console.js/",
        "/static/console.js/../index.html",
        "/static/../_console.py",
        "/static/index.html",
        "/static/",
        "/static",
        "/static/CONSOLE.JS",
        "/static/console.js\x00.png",
        "/_console_files/console.js",
        "/../__init__.py",
        "//static/console.js",
    ],
)
def test_nothing_outside_the_allowlist_is_served(path: str) -> None:
    assert _console.page("GET", path) is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/"),
        ("PUT", "/static/console.js"),
        ("DELETE", "/"),
        ("GET", "/api/baldur/cb/"),
        ("GET", "/api/baldur/health/"),
        ("GET", "/favicon.ico"),
    ],
)
def test_any_other_request_is_left_to_the_api(method: str, path: str) -> None:
    assert _console.page(method, path) is None


def test_the_page_has_no_inline_script_or_style() -> None:
    page = _page()
    assert page.inline == []
    for tag, attrs in page.tags:
        assert "style" not in attrs, f"<{tag} style=...>: the CSP refuses inline style"
        handlers = [name for name in attrs if name.startswith("on")]
        assert handlers == [], f"<{tag} {handlers}>: the CSP refuses inline handlers"
        for name in ("href", "src", "action"):
            assert not (attrs.get(name) or "").lower().startswith("javascript:")
        if tag == "script":
            assert attrs.get("src"), "every script is a file"
        assert tag != "style"


def test_every_file_the_page_names_is_served_and_from_its_own_origin() -> None:
    page = _page()
    named = [
        attrs.get("src") or attrs.get("href")
        for tag, attrs in page.tags
        if tag in ("script", "link", "img")
    ]
    assert "/static/console.js" in named
    assert "/static/console.css" in named
    for url in named:
        assert url is not None
        if url == "data:,":  # the empty icon: no request for /favicon.ico
            continue
        assert url.startswith("/static/"), f"{url}: nothing from another origin (no CDN)"
        response = _console.page("GET", url)
        assert response is not None, url
        assert response.status == 200


def test_the_allowlist_and_the_shipped_files_agree() -> None:
    shipped = {entry.name for entry in FILES.iterdir() if entry.is_file()}
    assert shipped == {"index.html", *_console.FILES}


def test_every_element_the_script_looks_up_is_on_the_page() -> None:
    ids = {attrs["id"] for _, attrs in _page().tags if attrs.get("id")}
    script = _text("console.js")
    looked_up = set(re.findall(r'\$\("([a-z0-9-]+)"\)', script))
    for group in re.findall(r"for \(const id of \[([^\]]+)\]", script):
        looked_up |= set(re.findall(r'"([a-z0-9-]+)"', group))
    assert looked_up, "the pattern must find the script's look-ups"
    assert looked_up <= ids, f"missing on the page: {sorted(looked_up - ids)}"


def test_the_script_never_evaluates_or_injects_markup() -> None:
    script = _text("console.js")
    for banned in (
        "eval(",
        "new Function",
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        'setAttribute("style"',
        ".style.",
    ):
        assert banned not in script, banned
    # Intervals and timeouts take a function, never a string of code.
    assert not re.search(r"set(Interval|Timeout)\(\s*[\"'`]", script)


def test_the_script_calls_only_its_own_origin() -> None:
    script = _text("console.js")
    assert not re.search(r"https?://", script)
    assert 'const API = "/api/baldur/"' in script
    assert "X-Baldur-Key" in script
    assert "sessionStorage" in script and "localStorage" not in script


def test_nothing_is_loaded_from_another_origin() -> None:
    for name in ("index.html", "console.css"):
        assert not re.search(r"(https?:)?//[a-z]", _text(name), re.IGNORECASE), name
