"""``baldur``: the operator's command line, a client of the admin server.

::

    baldur cb list
    baldur cb force-open payments --yes
    baldur dlq list --domain payments --json
    baldur kill-switch disable --reason "incident 4711"

It finds the server at ``--url`` (else ``BALDUR_ADMIN_URL``, else
``http://127.0.0.1:9090``) and sends the admin key from ``--key`` (else
``BALDUR_ADMIN_KEY``, else the ``admin.key`` a server with no configured key
wrote into ``BALDUR_DATA_DIR``). Exit status: 0 done, 1 the action failed,
2 usage error, 3 refused (401/403), 4 no admin server reachable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from baldur.cli import _commands as commands
from baldur.cli._client import (
    FAILED,
    CliError,
    Target,
    resolve_key,
    resolve_url,
)
from baldur.kill_switch import _default_actor

__all__ = ["main"]

_GLOBALS = argparse.ArgumentParser(add_help=False)
_GLOBALS.add_argument("--url", default=argparse.SUPPRESS, help="the admin server's base URL")
_GLOBALS.add_argument("--key", default=argparse.SUPPRESS, help="the admin (or viewer) key")
_GLOBALS.add_argument(
    "--json", action="store_true", default=argparse.SUPPRESS, help="the API's JSON, unchanged"
)
_GLOBALS.add_argument(
    "--yes",
    action="store_true",
    default=argparse.SUPPRESS,
    help="do a destructive action without the CONFIRM prompt",
)
_GLOBALS.add_argument(
    "--actor", default=argparse.SUPPRESS, help="who acts, for the audit (default user@host)"
)


class _Commands:
    """Builds the tree of subcommands; every level accepts the global
    options, so they may come before or after the subcommand."""

    def __init__(self) -> None:
        self.root = argparse.ArgumentParser(
            prog="baldur",
            description="Operate Baldur through its admin server.",
            parents=[_GLOBALS],
        )
        self.top = self.root.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def group(self, name: str, help: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        parser = self.top.add_parser(name, help=help, parents=[_GLOBALS])
        return parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    @staticmethod
    def leaf(
        where: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        run: commands.Handler,
        help: str,
    ) -> argparse.ArgumentParser:
        parser = where.add_parser(name, help=help, parents=[_GLOBALS])
        parser.set_defaults(run=run, parser=parser)
        return parser


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, as the contract's "CLI" section lists it."""
    tree = _Commands()
    leaf = tree.leaf

    cb = tree.group("cb", "circuit breakers")
    leaf(cb, "list", commands.cb_list, "every breaker: state, counts, retry-after")
    leaf(cb, "show", commands.cb_show, "one breaker").add_argument("name")
    for action, text in (
        ("reset", "hand a breaker back to automatic control"),
        ("force-open", "take a dependency out of rotation"),
        ("force-close", "pin a breaker closed"),
    ):
        act = leaf(cb, action, commands.cb_action, text)
        act.add_argument("name")
        act.add_argument("--reason", help="why, for the audit")
        act.add_argument(
            "--override", action="store_true", help="act even while the kill switch is engaged"
        )

    dlq = tree.group("dlq", "the dead-letter queue")
    listing = leaf(dlq, "list", commands.dlq_list, "entries, newest first")
    listing.add_argument("--domain")
    listing.add_argument("--state")
    listing.add_argument("--failure-type")
    listing.add_argument("--limit", type=_positive)
    listing.add_argument("--cursor")
    leaf(dlq, "show", commands.dlq_show, "one entry, with its arguments").add_argument("id")
    replay = leaf(dlq, "replay", commands.dlq_replay, "replay an entry, or a domain's")
    replay.add_argument("id", nargs="?")
    replay.add_argument("--domain")
    replay.add_argument("--failure-type")
    replay.add_argument("--limit", type=_positive)
    redrive = leaf(dlq, "redrive", commands.dlq_redrive, "a fresh replay budget for an entry")
    redrive.add_argument("id")
    purge = leaf(dlq, "purge", commands.dlq_purge, "delete a domain's entries for good")
    purge.add_argument("--domain", required=True)
    purge.add_argument("--state")

    switch = tree.group("kill-switch", "turn self-healing off and on")
    leaf(switch, "status", commands.kill_switch_status, "enabled, or who disabled it and why")
    disable = leaf(switch, "disable", commands.kill_switch_disable, "make Baldur inert")
    disable.add_argument("--reason", required=True)
    leaf(switch, "enable", commands.kill_switch_enable, "re-arm Baldur")

    report = leaf(tree.top, "report", commands.report, "the daily reports")
    when = report.add_mutually_exclusive_group()
    when.add_argument("--date", type=commands.report_date, help="YYYY-MM-DD or today")
    when.add_argument("--days", type=_positive, help="the last N reports")

    leaf(tree.top, "health", commands.health, "the health checks, in full")
    leaf(tree.top, "dashboard", commands.dashboard, "the dashboard summary")
    audit = tree.group("audit", "the audit trail")
    leaf(audit, "verify", commands.audit_verify, "check the hash chain (exit 1 if broken)")
    records = leaf(audit, "list", commands.audit_list, "the latest records")
    records.add_argument("--limit", type=_positive)
    records.add_argument("--after", type=int, help="records after this seq")
    leaf(tree.top, "leader", commands.leader, "who leads the fleet")
    emergency = tree.group("emergency", "emergency mode")
    leaf(emergency, "status", commands.emergency_status, "the fleet's emergency level")
    return tree.root


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; returns its exit status (the console script exits
    with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    options = vars(args)
    try:
        url = resolve_url(options.get("url"))
    except ValueError as error:
        args.parser.error(str(error))
    key, source = resolve_key(options.get("key"))
    target = Target(url, key, source, options.get("actor") or _default_actor())
    run = commands.Run(target, bool(options.get("json")), bool(options.get("yes")), args.parser)
    try:
        return int(args.run(run, args))
    except CliError as error:
        if run.as_json and error.text is not None:
            run.print(error.text)
        message = str(error)
        if key and len(key) >= 6:  # a belt to the braces: no message is built from it
            message = message.replace(key, "<key>")
        print(f"baldur: {message}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        print("\nbaldur: interrupted", file=sys.stderr)
        return FAILED
