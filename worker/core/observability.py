"""Logging and Sentry set-up. Nothing here ever records a credential.

Logs: RTQ_LOG_FORMAT=json makes every line of a worker's output one JSON object, Celery's own
lines included (`setup_logging` formats every handler Celery installs;
`worker.celery_adapter.worker_output` silences what Celery prints outside logging). Job lines
carry `job_id`, `account_id`, `tweet_id`, `action`, `outcome`, `attempt`, `reason` and
`duration_ms` as fields; operator actions' lines (`rtq.audit`, `setup_audit_log`) `action`,
`at`, `actor`, `target`, `jobs` and `details`. Text lines are scrubbed too. urllib3/oauthlib,
which log request headers at DEBUG, are held at WARNING.

Sentry (SENTRY_DSN): the Celery integration (added by the adapter), one event per dead-lettered
job (`report_dead_letter`, never one per retry: retries are not exceptions), `before_send`
scrubbing, `send_default_pii` off and no local variables in stack traces (a frame's locals can
hold a token under any name).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from worker.core.settings import Settings

_JOB_FIELDS = ("job_id", "account_id", "tweet_id", "action", "outcome", "attempt", "reason",
               "duration_ms")
# The fields of an operator action's line (worker/ops/audit.py), besides `action`.
_AUDIT_FIELDS = ("at", "actor", "target", "jobs", "details")
# Anything shaped like a credential: OAuth header parameters, Fernet tokens, key=value secrets.
# Each pattern keeps its first group (the name) and drops the value.
_SECRET_PATTERNS = [
    re.compile(r"(?i)(oauth_[a-z_]+=)\"?[^\",\s]+\"?"),
    re.compile(r"(?i)(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"()gAAAAA[A-Za-z0-9_\-]{20,}=*"),
    re.compile(r"(?i)((?:secret|token|password|passwd|authorization|signature|credentials?)"
               r"[\"']?\s*[:=]\s*[\"']?)(?!bearer\b|basic\b)[^\s\"',}]+"),
]
# Every _SECRET_PATTERNS match contains one of these words, in any case: an ASCII line with
# none of them (nearly every line: a worker logs three per job) skips the four substitutions.
# (Substring tests on the lowered line: a case-insensitive regex costs ten times as much.)
_SECRET_WORDS = ("oauth_", "bearer", "basic", "gaaaaa", "secret", "token", "passw",
                 "authorization", "signature", "credential")
_SECRET_KEYS = re.compile(
    r"(?i)secret|token|passw|authorization|signature|cookie|credential|bearer|dsn|"
    r"(?:api|private|secret|fernet|consumer)_?key"
)
# Log records carrying this attribute (`extra={DEAD_LETTER_LOGGED: True}`) describe a dead
# letter that `report_dead_letter` already sent to Sentry: the logging integration skips them.
DEAD_LETTER_LOGGED = "rtq_dead_letter"
_MIN_KNOWN_SECRET = 8
_MAX_BREADCRUMB = 300
_sentry_ready = False
# Secret values this process was configured with (Fernet keys, the default consumer secret,
# the Redis password): scrubbed wherever they appear, whatever surrounds them.
_known_secrets: tuple[str, ...] = ()


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the job fields when a record carries them."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub_text(record.getMessage()),
        }
        for name in (*_JOB_FIELDS, *_AUDIT_FIELDS):
            if hasattr(record, name):
                document[name] = getattr(record, name)
        if record.exc_info:
            document["exception"] = scrub_text(self.formatException(record.exc_info))
        return json.dumps(document, default=str)


class ScrubbingFormatter(logging.Formatter):
    """Text lines as the wrapped formatter makes them, minus anything shaped like a secret."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return scrub_text(self.inner.format(record))


def setup_logging(settings: Settings, logger: logging.Logger) -> None:
    """Format every handler of `logger` (Celery's root or task logger) and of billiard's
    multiprocessing logger: JSON lines, or the existing text format, scrubbed."""
    remember_secrets(settings)
    loggers = [logger]
    if logger is logging.getLogger():
        loggers.append(logging.getLogger("multiprocessing"))  # billiard's, set up by Celery
    for target in loggers:
        for handler in target.handlers:
            current = handler.formatter
            if settings.log_format == "json":
                if not isinstance(current, JsonFormatter):
                    handler.setFormatter(JsonFormatter())
            elif not isinstance(current, ScrubbingFormatter):
                handler.setFormatter(ScrubbingFormatter(current))
    # urllib3 and oauthlib log request details (headers, signatures) at DEBUG.
    for noisy in ("urllib3", "oauthlib", "requests_oauthlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def setup_audit_log(settings: Settings) -> None:
    """Send the `rtq.audit` lines of operator actions to stderr (the CLI, `rtq api`,
    `rtq web`): a JSON object each with RTQ_LOG_FORMAT=json, scrubbed text otherwise."""
    remember_secrets(settings)
    logger = logging.getLogger("rtq.audit")
    logger.setLevel(logging.INFO)
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json"
                         else ScrubbingFormatter(logging.Formatter("%(message)s")))
    logger.addHandler(handler)
    logger.propagate = False


def remember_secrets(settings: Settings) -> None:
    """Note this process's own secret values, so that scrubbing removes them verbatim."""
    global _known_secrets
    values = [*settings.secret_keys, settings.consumer_secret or "",
              *_url_passwords(settings.redis_url)]
    _known_secrets = tuple(sorted({v for v in values if len(v) >= _MIN_KNOWN_SECRET},
                                  key=len, reverse=True))


def _url_passwords(url: str) -> list[str]:
    """The Redis password in RTQ_REDIS_URL, and a Sentinel URL's `sentinel_password`."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return []
    found = [unquote(password)] if password else []
    return found + parse_qs(parts.query).get("sentinel_password", [])


def scrub_text(text: str) -> str:
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, "[Filtered]")
    if text.isascii():  # (IGNORECASE also folds some non-ASCII letters: those lines go on)
        lowered = text.lower()
        if not any(word in lowered for word in _SECRET_WORDS):
            return text
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
    A no-op without SENTRY_DSN. Called while an exception is being handled (an internal
    error), the event carries that exception and its traceback."""
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
        error = sys.exc_info()[1]
        if entry.reason == "internal_error" and error is not None:
            scope.fingerprint = ["rtq-dead-letter", entry.reason, "{{ default }}"]
            sentry_sdk.capture_exception(error)
            return
        scope.fingerprint = ["rtq-dead-letter", entry.reason, entry.action or "unknown"]
        sentry_sdk.capture_message(f"job dead-lettered: {entry.reason}", level="error")


def report_transition(message: str, *, level: str = "warning", **tags: str) -> None:
    """One Sentry event for a condition that changes many jobs at once (an app or account
    held, the breaker opening or closing): sent once per transition, never per job."""
    if not _sentry_ready:
        return
    import sentry_sdk

    with sentry_sdk.new_scope() as scope:
        for name, value in tags.items():
            scope.set_tag(name, value)
        scope.fingerprint = ["rtq-transition", *tags.values()]
        sentry_sdk.capture_message(message, level=level)  # type: ignore[arg-type]


def before_send(event: Any, hint: Any) -> Any:
    record = hint.get("log_record") if isinstance(hint, dict) else None
    if record is not None and getattr(record, DEAD_LETTER_LOGGED, False):
        return None  # report_dead_letter sent this dead letter's event already
    return scrub(event)


def before_breadcrumb(crumb: Any, hint: Any) -> Any:
    """Keep breadcrumbs short: sentry-sdk's Redis integration records whole Lua scripts
    (SCRIPT LOAD), kilobytes per event that say nothing about the failure."""
    message = crumb.get("message") if isinstance(crumb, dict) else None
    if isinstance(message, str) and len(message) > _MAX_BREADCRUMB:
        crumb["message"] = message[:_MAX_BREADCRUMB] + "..."
    return crumb


def setup_sentry(settings: Settings, integrations: Sequence[Any] = ()) -> bool:
    """Start sentry-sdk once per process (the Celery adapter passes its integration); True
    when this call started it."""
    global _sentry_ready
    if not settings.sentry_dsn or _sentry_ready:
        return False
    import sentry_sdk

    remember_secrets(settings)
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        integrations=list(integrations),
        send_default_pii=False,
        include_local_variables=False,
        before_send=before_send,
        before_breadcrumb=before_breadcrumb,
        max_request_body_size="never",
        release=_release(),
    )
    _sentry_ready = True
    return True


def _release() -> str | None:
    from importlib import metadata

    try:
        return f"retweet-queue@{metadata.version('retweet-queue')}"
    except metadata.PackageNotFoundError:
        return None


