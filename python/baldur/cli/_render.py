"""The control API's answers as text a person reads: a table for a list of
breakers or dead letters, aligned ``field: value`` lines for the rest, and
the serving process (pid, store) last, since in memory mode it is the only
process acted on."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

_BREAKER_COLUMNS = ("name", "state", "failures/calls", "retry-after")
_ENTRY_COLUMNS = ("id", "zone", "state", "error type", "attempts", "created")


def breakers(answer: Any) -> str:
    """``cb/``: one row a breaker."""
    rows = [_breaker_row(b) for b in _items(answer, "breakers", "circuits")]
    if not rows:
        return _with_origin(answer, "No breaker yet: none has been called or forced.")
    return _with_origin(answer, table(_BREAKER_COLUMNS, rows))


def breaker(answer: Any) -> str:
    """``cb/NAME/`` and a breaker action's answer."""
    inner = answer.get("breaker") if isinstance(answer, dict) else None
    one = inner if isinstance(inner, dict) else answer
    if isinstance(one, dict) and "state" in one:
        text = table(_BREAKER_COLUMNS, [_breaker_row(one)])
        if one.get("action"):
            text += f"\n\n{one['action']} done, by {_text(one.get('actor'))}."
        return _with_origin(answer, text)
    return document(answer)


def _breaker_row(b: dict[str, Any]) -> list[str]:
    counts = f"{_text(b.get('failures'))}/{_text(b.get('calls'))}"
    retry = b.get("retry_after")
    return [
        _text(b.get("name")),
        _text(b.get("state")),
        counts,
        "-" if retry is None else f"{float(retry):.1f}s",
    ]


def entries(answer: Any) -> str:
    """``dlq/``: one row an entry, and whether there is more."""
    rows = [
        [
            _text(e.get("id")),
            _text(e.get("zone")),
            _text(e.get("state")),
            _text(e.get("error_type")),
            _text(e.get("attempts")),
            _when(e.get("created_at")),
        ]
        for e in _items(answer, "entries")
    ]
    text = table(_ENTRY_COLUMNS, rows) if rows else "No entry matches."
    if isinstance(answer, dict) and answer.get("next_cursor"):
        text += f"\nMore: --cursor {answer['next_cursor']}"
    elif isinstance(answer, dict) and answer.get("complete") is False:
        text += "\nThe listing may be incomplete (a store did not answer)."
    return _with_origin(answer, text)


def replays(answer: Any) -> str:
    """A replay's outcome (or a batch's): one row each."""
    rows = [
        [
            _text(o.get("id")),
            "ok" if o.get("ok") else ("already done" if o.get("already_done") else "failed"),
            _text(o.get("state")),
            _text(o.get("error")),
        ]
        for o in outcomes(answer)
    ]
    text = table(("id", "outcome", "state", "error"), rows) if rows else "Nothing to replay."
    if isinstance(answer, dict) and "outcomes" in answer:
        text += f"\nReplayed {_text(answer.get('replayed'))}, failed {_text(answer.get('failed'))}."
    return _with_origin(answer, text)


def outcomes(answer: Any) -> list[dict[str, Any]]:
    """The replay outcomes in an answer: one (``dlq/ID/replay``) or a batch's."""
    if isinstance(answer, dict) and "id" in answer and "ok" in answer:
        return [answer]
    return _items(answer, "results", "outcomes", "replays", "entries")


def document(answer: Any) -> str:
    """Any other answer: ``field: value`` lines, nested ones indented, a
    list of records as a table."""
    if not isinstance(answer, dict):
        return _value_lines(answer, 0)
    body = {k: v for k, v in answer.items() if k != "served_by"}
    return _with_origin(answer, _value_lines(body, 0) or "(empty)")


def leader(answer: Any) -> str:
    """``GET leader/``: who leads, under which token, for how long yet."""
    if not isinstance(answer, dict):
        return document(answer)
    leads = answer.get("is_leader") is True
    who = _text(answer.get("leader_id")) if answer.get("leader_id") else "none known now"
    left = answer.get("lease_left")
    if isinstance(left, (int, float)):
        lease = f"{left:.1f} s left"
    elif leads:
        lease = "none (no Redis: every process leads itself)"
    else:
        lease = "-"
    lines = [
        f"leader:     {who}" + (" (the process that answered)" if leads else ""),
        f"token:      {_text(answer.get('token'))}",
        f"lease:      {lease}",
        f"is_leader:  {_text(leads)}",
    ]
    return _with_origin(answer, "\n".join(lines))


def _value_lines(value: Any, depth: int) -> str:
    pad = "  " * depth
    if isinstance(value, dict):
        if not value:
            return f"{pad}(none)"
        width = max(len(str(k)) for k in value)
        lines = []
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                lines += [f"{pad}{k}:", _value_lines(v, depth + 1)]
            else:
                shown = _when(v) if str(k).endswith("_at") else _text(v)
                lines.append(f"{pad}{str(k) + ':':<{width + 1}} {shown}")
        return "\n".join(lines)
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            columns = list(dict.fromkeys(k for v in value for k in v))
            rows = [[_text(v.get(c)) for c in columns] for v in value]
            return "\n".join(pad + line for line in table(columns, rows).splitlines())
        return "\n".join(f"{pad}- {_text(v)}" for v in value) or f"{pad}(none)"
    return f"{pad}{_text(value)}"


def table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns under an upper-case header."""
    header = [c.upper() for c in columns]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def _items(answer: Any, *keys: str) -> list[dict[str, Any]]:
    """The records under the first of ``keys`` the answer has: a list as it
    is, a mapping by name as records that carry their name."""
    if isinstance(answer, list):
        return [a for a in answer if isinstance(a, dict)]
    if not isinstance(answer, dict):
        return []
    for key in keys:
        found = answer.get(key)
        if isinstance(found, list):
            return [a for a in found if isinstance(a, dict)]
        if isinstance(found, dict):
            return [{"name": name, **v} for name, v in found.items() if isinstance(v, dict)]
    return []


def _with_origin(answer: Any, text: str) -> str:
    served = answer.get("served_by") if isinstance(answer, dict) else None
    if not isinstance(served, dict):
        return text
    scope = "this process only" if served.get("store") == "memory" else "the fleet"
    return f"{text}\n\nServed by pid {served.get('pid')}, {served.get('store')} store ({scope})."


def _when(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
    return _text(value)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if value == [] or value == {}:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
