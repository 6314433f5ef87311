"""Which ``BALDUR_*`` environment variables Baldur knows, so that a typo
(``BALDUR_CB_FAILURE_THRESHOLDS``) is reported instead of ignored.

Known: every variable of the settings table, and every one the contract
documents (the operator half is built in waves: a documented setting that
is not read yet is not a typo). This is the one list of the latter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import baldur._events as _events

#: Every ``BALDUR_*`` name the contract and its documents name, built or not.
DOCUMENTED = frozenset(
    {
        "BALDUR_ADMIN_ALLOWED_HOSTS",
        "BALDUR_ADMIN_ALLOWED_ORIGINS",
        "BALDUR_ADMIN_HOST",
        "BALDUR_ADMIN_KEY",
        "BALDUR_ADMIN_PORT",
        "BALDUR_ADMIN_UNLOCK",
        "BALDUR_ADMIN_URL",
        "BALDUR_AUDIT_ENABLED",
        "BALDUR_AUDIT_SIGNING_KEY",
        "BALDUR_CB_FAILURE_RATE_THRESHOLD",
        "BALDUR_CB_FAILURE_THRESHOLD",
        "BALDUR_CB_HALF_OPEN_MAX_CALLS",
        "BALDUR_CB_MINIMUM_CALLS",
        "BALDUR_CB_RECOVERY_TIMEOUT",
        "BALDUR_CB_WINDOW_SECONDS",
        "BALDUR_DATA_DIR",
        "BALDUR_DLQ_MAX_SIZE",
        "BALDUR_DLQ_REPLAY_INTERVAL_SECONDS",
        "BALDUR_DLQ_SIGNING_KEY",
        "BALDUR_EMERGENCY_ERROR_RATE",
        "BALDUR_EMERGENCY_MIN_CALLS",
        "BALDUR_EMERGENCY_STABILIZATION_SECONDS",
        "BALDUR_EMERGENCY_WINDOW_SECONDS",
        "BALDUR_EVENT_LOGGING_CB_LOG_LEVEL",
        "BALDUR_EVENT_LOGGING_DLQ_LOG_LEVEL",
        "BALDUR_EVENT_LOGGING_REPLAY_LOG_LEVEL",
        "BALDUR_EVENT_LOGGING_SLA_LOG_LEVEL",
        "BALDUR_GOVERNANCE_EMERGENCY_LEVEL",
        "BALDUR_IDEMPOTENCY_GATE_MEMORY_TTL_SECONDS",
        "BALDUR_LEADER_ELECTION_REDIS_URL",
        "BALDUR_LEADER_LEASE_SECONDS",
        "BALDUR_LICENSE_FILE",
        "BALDUR_LICENSE_KEY",
        "BALDUR_LOG_LEVEL",
        "BALDUR_NOTIFICATIONS_ENABLED",
        "BALDUR_NOTIFY_BURST_THRESHOLD",
        "BALDUR_NOTIFY_COOLDOWN_SECONDS",
        "BALDUR_NOTIFY_INFO_CHANNEL",
        "BALDUR_NOTIFY_RATE_PER_HOUR",
        "BALDUR_NOTIFY_RATE_PER_MINUTE",
        "BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS",
        "BALDUR_REDIS_URL",
        "BALDUR_REPORT_TIME",
        "BALDUR_RESILIENT_STORAGE_REDIS_URL",
        "BALDUR_RETRY_BUDGET_MIN_PER_SECOND",
        "BALDUR_RETRY_BUDGET_RATIO",
        "BALDUR_SLACK_WEBHOOK_URL",
        "BALDUR_SLO_TARGET",
        "BALDUR_SLO_WINDOW_SECONDS",
        "BALDUR_SQL_DSN",
        "BALDUR_VIEWER_KEY",
        "BALDUR_WATCHDOG_MISSED_BEATS",
        "BALDUR_WEBHOOK_URL",
    }
)

_log = logging.getLogger("baldur.config")
#: Names already reported in this process: each is logged once.
_reported: set[str] = set()


def unknown(environ: Mapping[str, str], read: Iterable[str]) -> list[str]:
    """The ``BALDUR_*`` names in ``environ`` that are neither ``read`` (the
    settings table's variables) nor documented, sorted."""
    known = DOCUMENTED.union(read)
    return sorted(name for name in environ if name.startswith("BALDUR_") and name not in known)


def report_unknown(environ: Mapping[str, str], read: Iterable[str]) -> None:
    """Logs ``config.unknown_setting`` at WARNING for each unknown name, once
    per process."""
    for name in unknown(environ, read):
        if name not in _reported:
            _reported.add(name)
            _events.emit(
                _log,
                logging.WARNING,
                "config.unknown_setting",
                setting=name,
                detail="not a Baldur setting (a typo?); it is ignored",
            )
