"""The commands: each one route of the control API, its answer shown as a
table (or, with ``--json``, exactly as the server sent it), and an exit
status that says whether it did its job."""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from baldur.cli import _render
from baldur.cli._client import FAILED, OK, SLOW_TIMEOUT, TIMEOUT, CliError, Target


@dataclass(frozen=True)
class Run:
    """One invocation: where it talks to, and how it shows what it got."""

    target: Target
    as_json: bool
    yes: bool
    #: The command's own parser, for a usage error (exit 2).
    parser: argparse.ArgumentParser

    def read(
        self,
        route: str,
        render: Callable[[Any], str],
        query: dict[str, Any] | None = None,
        *,
        failed: Callable[[int, Any], bool] = lambda status, answer: False,
        tolerate: tuple[int, ...] = (),
    ) -> int:
        """GET ``route`` and show the answer; exit 1 when ``failed`` says so."""
        status, answer, text = self.target.request("GET", route, query=query, tolerate=tolerate)
        self.show(answer, text, render)
        return FAILED if failed(status, answer) else OK

    def act(
        self,
        what: str,
        route: str,
        render: Callable[[Any], str],
        body: dict[str, Any] | None = None,
        *,
        failed: Callable[[Any], bool] = lambda answer: False,
        timeout: float = TIMEOUT,
    ) -> int:
        """A destructive POST, once the operator confirmed it; the body's
        ``None`` fields are left out."""
        if not self.yes:
            if not sys.stdin.isatty():
                self.parser.error(
                    f"{what} is destructive: pass --yes (there is no terminal to confirm on)"
                )
            sys.stderr.write(f"{what} on {self.target.url}. Type CONFIRM to go ahead: ")
            sys.stderr.flush()
            if sys.stdin.readline().strip() != "CONFIRM":
                raise CliError("not confirmed: nothing was done.", FAILED)
        payload = {k: v for k, v in (body or {}).items() if v is not None}
        payload["confirm"] = "CONFIRM"
        _, answer, text = self.target.request("POST", route, body=payload, timeout=timeout)
        self.show(answer, text, render)
        return FAILED if failed(answer) else OK

    def show(self, answer: Any, text: str, render: Callable[[Any], str]) -> None:
        self.print(text if self.as_json else render(answer))

    @staticmethod
    def print(out: str) -> None:
        sys.stdout.write(out if out.endswith("\n") else out + "\n")


#: A command: what it does with one invocation; returns the exit status.
Handler = Callable[[Run, argparse.Namespace], int]


def _segment(value: str) -> str:
    """One path segment: a breaker name or an entry id, never a path."""
    return urllib.parse.quote(value, safe="")


# -- circuit breakers ----------------------------------------------------------


def cb_list(run: Run, args: argparse.Namespace) -> int:
    return run.read("cb/", _render.breakers)


def cb_show(run: Run, args: argparse.Namespace) -> int:
    return run.read(f"cb/{_segment(args.name)}/", _render.breaker)


def cb_action(run: Run, args: argparse.Namespace) -> int:
    return run.act(
        f"{args.action} breaker {args.name!r}",
        f"cb/{_segment(args.name)}/{args.action}",
        _render.breaker,
        {"reason": args.reason, "override": args.override or None},
    )


# -- dead-letter queue ---------------------------------------------------------


def dlq_list(run: Run, args: argparse.Namespace) -> int:
    query = {
        "domain": args.domain,
        "state": args.state,
        "failure_type": args.failure_type,
        "limit": args.limit,
        "cursor": args.cursor,
    }
    return run.read("dlq/", _render.entries, query)


def dlq_show(run: Run, args: argparse.Namespace) -> int:
    return run.read(f"dlq/{_segment(args.id)}/", _render.document)


def dlq_replay(run: Run, args: argparse.Namespace) -> int:
    if args.id is not None:
        if args.domain or args.failure_type:
            run.parser.error("give an entry ID, or --domain / --failure-type, not both")
        return run.act(
            f"replay entry {args.id}",
            f"dlq/{_segment(args.id)}/replay",
            _render.replays,
            failed=_replay_failed,
            timeout=SLOW_TIMEOUT,
        )
    if not (args.domain or args.failure_type):
        run.parser.error("give an entry ID, or --domain D (or --failure-type T) for a batch")
    scope = f"domain {args.domain!r}" if args.domain else f"failure type {args.failure_type!r}"
    return run.act(
        f"replay the pending entries of {scope}",
        "dlq/replay",
        _render.replays,
        {"domain": args.domain, "failure_type": args.failure_type, "limit": args.limit},
        failed=_replay_failed,
        timeout=SLOW_TIMEOUT,
    )


def _replay_failed(answer: Any) -> bool:
    if isinstance(answer, dict) and isinstance(answer.get("failed"), int):
        return bool(answer["failed"])  # a batch's count
    return any(not (o.get("ok") or o.get("already_done")) for o in _render.outcomes(answer))


def dlq_redrive(run: Run, args: argparse.Namespace) -> int:
    return run.act(
        f"redrive entry {args.id}",
        f"dlq/{_segment(args.id)}/redrive",
        _render.document,
        failed=lambda answer: isinstance(answer, dict) and answer.get("redriven") is False,
    )


def dlq_purge(run: Run, args: argparse.Namespace) -> int:
    return run.act(
        f"purge the entries of domain {args.domain!r}",
        "dlq/purge",
        _render.document,
        {"domain": args.domain, "state": args.state},
        timeout=SLOW_TIMEOUT,
    )


# -- kill switch ---------------------------------------------------------------


def kill_switch_status(run: Run, args: argparse.Namespace) -> int:
    return run.read("kill-switch/", _render.document)


def kill_switch_disable(run: Run, args: argparse.Namespace) -> int:
    if not args.reason.strip():
        run.parser.error("--reason must say why")
    return run.act(
        "disable Baldur (kill switch)",
        "kill-switch/disable",
        _render.document,
        {"reason": args.reason},
    )


def kill_switch_enable(run: Run, args: argparse.Namespace) -> int:
    return run.act("enable Baldur (kill switch)", "kill-switch/enable", _render.document)


# -- reports and the rest ------------------------------------------------------


def report(run: Run, args: argparse.Namespace) -> int:
    if args.date is not None:
        day = date.today().isoformat() if args.date == "today" else args.date
        return run.read(f"reports/{day}/", _render.document)
    return run.read("reports/", _render.document, {"days": args.days})


def report_date(value: str) -> str:
    """argparse's check of ``--date``: ``YYYY-MM-DD`` or ``today``."""
    if value == "today":
        return value
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not YYYY-MM-DD or 'today'") from None


def health(run: Run, args: argparse.Namespace) -> int:
    # An unhealthy service answers 503 with its report: shown, and exit 1.
    return run.read("health/", _render.document, failed=lambda s, a: s >= 400, tolerate=(503,))


def dashboard(run: Run, args: argparse.Namespace) -> int:
    return run.read("dashboard/summary/", _render.document)


def audit_verify(run: Run, args: argparse.Namespace) -> int:
    return run.read(
        "audit/verify/",
        _render.document,
        failed=lambda status, answer: not (isinstance(answer, dict) and answer.get("ok")),
    )


def audit_list(run: Run, args: argparse.Namespace) -> int:
    return run.read("audit/", _render.document, {"limit": args.limit, "after": args.after})


def leader(run: Run, args: argparse.Namespace) -> int:
    return run.read("leader/", _render.leader)


def emergency_status(run: Run, args: argparse.Namespace) -> int:
    return run.read("emergency/", _render.document)
