"""Logging and Sentry set-up. Nothing here ever records a credential."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from worker.settings import Settings

_JOB_FIELDS = ("job_id", "account_id", "tweet_id", "action", "outcome", "attempt", "reason",
               "duration_ms")
# Anything shaped like a credential: OAuth header parameters, Fernet tokens, key=value secrets.
# Each pattern keeps its first group (the name) and drops the value.
_SECRET_PATTERNS = [
    re.compile(r"(?i)(oauth_[a-z_]+=)\"?[^\",\s]+\"?"),
    re.compile(r"(?i)(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"()gAAAAA[A-Za-z0-9_\-]{20,}=*"),
    re.compile(r"(?i)((?:secret|token|password|passwd|authorization|signature|credentials?)"
               r"[\"']?\s*[:=]\s*[\"']?)(?!bearer\b|basic\b)[^\s\"',}]+"),
]
_SECRET_KEYS = re.compile(
    r"(?i)secret|token|passw|authorization|signature|cookie|credential|bearer|dsn|"
    r"(?:api|private|secret|fernet|consumer)_?key"
)
_sentry_ready = False


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the job fields when a record carries them."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub_text(record.getMessage()),
        }
        for name in _JOB_FIELDS:
            if hasattr(record, name):
                document[name] = getattr(record, name)
        if record.exc_info:
            document["exception"] = scrub_text(self.formatException(record.exc_info))
        return json.dumps(document, default=str)


def setup_logging(settings: Settings, logger: logging.Logger) -> None:
    if settings.log_format == "json":
        for handler in logger.handlers:
            handler.setFormatter(JsonFormatter())
    # urllib3 and oauthlib log request details (headers, signatures) at DEBUG.
    for noisy in ("urllib3", "oauthlib", "requests_oauthlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def scrub_text(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "[Filtered]", text)
    return text


def scrub(value: Any) -> Any:
    """Recursively drop values under secret-looking keys and scrub secret-looking text."""
    if isinstance(value, dict):
        return {
            k: ("[Filtered]" if isinstance(k, str) and _SECRET_KEYS.search(k) else scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def report_dead_letter(entry: Any) -> None:
    """One Sentry event per dead-lettered job (never per retry), tagged for triage.
    A no-op without SENTRY_DSN."""
    if not _sentry_ready:
        return
    import sentry_sdk

    with sentry_sdk.new_scope() as scope:
        scope.set_tag("account_id", entry.account_id or "unknown")
        scope.set_tag("action", entry.action or "unknown")
        scope.set_tag("reason", entry.reason)
        scope.set_tag("x_status", str(entry.http_status) if entry.http_status else "none")
        scope.set_context("dead_letter", {"job_id": entry.job_id, "entry_id": entry.id,
                                          "tweet_id": entry.tweet_id, "attempts": entry.attempts,
                                          "detail": entry.detail})
        scope.fingerprint = ["rtq-dead-letter", entry.reason, entry.action or "unknown"]
        sentry_sdk.capture_message(f"job dead-lettered: {entry.reason}", level="error")


def before_send(event: Any, hint: Any) -> Any:
    return scrub(event)


def setup_sentry(settings: Settings) -> None:
    global _sentry_ready
    if not settings.sentry_dsn or _sentry_ready:
        return
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        integrations=[CeleryIntegration()],
        send_default_pii=False,
        before_send=before_send,
        max_request_body_size="never",
    )
    _sentry_ready = True
