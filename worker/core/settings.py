"""Settings, read once from the environment into a frozen object.

Every variable is validated when read; a bad value raises `SettingsError` naming the variable
(never echoing a secret's value). Nothing else in rtq reads `os.environ` for configuration.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from worker.core.errors import SettingsError
from worker.core.redis_urls import parse_sentinel_url

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_X_API_URL = "https://api.x.com"
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_RETRY_BACKOFF = 1.0
DEFAULT_RETRY_BACKOFF_MAX = 60.0
DEFAULT_KEY_PREFIX = "rtq"
DEFAULT_JOB_TTL = 7 * 24 * 3600
DEFAULT_KNOWN_STATE_TTL = 30 * 24 * 3600
DEFAULT_RATE_LIMIT = "50/900"
# Redelivery and lease timings: our calls are short (HTTP timeouts below), so a
# message held by a dead worker comes back after VISIBILITY_TIMEOUT seconds.
DEFAULT_VISIBILITY_TIMEOUT = 30
DEFAULT_HTTP_CONNECT_TIMEOUT = 3.05
DEFAULT_HTTP_READ_TIMEOUT = 10.0
DEFAULT_MAX_DELIVERIES = 5
DEFAULT_LOG_FORMAT = "text"
DEFAULT_DLQ_MAX = 100_000
DEFAULT_DLQ_TTL = 30 * 24 * 3600

_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
DEFAULT_QUEUE = "rtq"


def parse_rate(text: str) -> tuple[int, int]:
    """`LIMIT/SECONDS` (e.g. `50/900`: 50 calls per 15 minutes) as (limit, window)."""
    match = re.fullmatch(r"\s*([0-9]{1,6})\s*/\s*([0-9]{1,6})\s*", text)
    if match is None or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise ValueError(f"expected LIMIT/SECONDS such as 50/900, got {text!r}")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True)
class Settings:
    """All of rtq's configuration. Build it with `Settings.from_env()`."""

    redis_url: str = field(default=DEFAULT_REDIS_URL, repr=False)
    x_api_url: str = DEFAULT_X_API_URL
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    consumer_key: str | None = field(default=None, repr=False)
    consumer_secret: str | None = field(default=None, repr=False)
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    retry_backoff: float = DEFAULT_RETRY_BACKOFF
    retry_backoff_max: float = DEFAULT_RETRY_BACKOFF_MAX
    sentry_dsn: str | None = field(default=None, repr=False)
    key_prefix: str = DEFAULT_KEY_PREFIX
    queue: str = DEFAULT_QUEUE
    job_ttl: int = DEFAULT_JOB_TTL
    known_state_ttl: int = DEFAULT_KNOWN_STATE_TTL
    rate_limit: int = 50
    rate_window: int = 900
    visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT
    max_deliveries: int = DEFAULT_MAX_DELIVERIES
    http_connect_timeout: float = DEFAULT_HTTP_CONNECT_TIMEOUT
    http_read_timeout: float = DEFAULT_HTTP_READ_TIMEOUT
    log_format: str = DEFAULT_LOG_FORMAT
    dlq_max: int = DEFAULT_DLQ_MAX
    dlq_ttl: int = DEFAULT_DLQ_TTL
    oauth2_token_url: str = ""
    oauth2_authorize_url: str = "https://x.com/i/oauth2/authorize"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        backoff = reader.positive_float("RTQ_RETRY_BACKOFF", DEFAULT_RETRY_BACKOFF)
        backoff_max = reader.positive_float("RTQ_RETRY_BACKOFF_MAX", DEFAULT_RETRY_BACKOFF_MAX)
        if backoff_max < backoff:
            raise SettingsError(
                "RTQ_RETRY_BACKOFF_MAX: must be at least RTQ_RETRY_BACKOFF "
                f"({backoff_max} < {backoff})"
            )
        visibility_timeout = reader.positive_int("RTQ_VISIBILITY_TIMEOUT",
                                                 DEFAULT_VISIBILITY_TIMEOUT)
        connect_timeout = reader.positive_float("RTQ_HTTP_CONNECT_TIMEOUT",
                                                DEFAULT_HTTP_CONNECT_TIMEOUT)
        read_timeout = reader.positive_float("RTQ_HTTP_READ_TIMEOUT", DEFAULT_HTTP_READ_TIMEOUT)
        if visibility_timeout < 7:
            raise SettingsError("RTQ_VISIBILITY_TIMEOUT: must be at least 7 seconds")
        if connect_timeout + read_timeout > visibility_timeout - 5:
            # A call that can outlive the task's hard time limit would be cut off every time.
            raise SettingsError(
                "RTQ_HTTP_READ_TIMEOUT: connect + read timeouts "
                f"({connect_timeout + read_timeout:g}s) must stay below "
                f"RTQ_VISIBILITY_TIMEOUT - 5 ({visibility_timeout - 5}s)"
            )
        rate_limit, rate_window = reader.rate("RTQ_RATE_LIMIT", DEFAULT_RATE_LIMIT)
        x_api_url = reader.http_url("RTQ_X_API_URL", DEFAULT_X_API_URL)
        consumer_key = reader.optional("RTQ_CONSUMER_KEY")
        consumer_secret = reader.optional("RTQ_CONSUMER_SECRET")
        if (consumer_key is None) != (consumer_secret is None):
            missing = "RTQ_CONSUMER_SECRET" if consumer_secret is None else "RTQ_CONSUMER_KEY"
            raise SettingsError(f"{missing}: must be set together with its pair")
        return cls(
            redis_url=reader.redis_url("RTQ_REDIS_URL", DEFAULT_REDIS_URL),
            x_api_url=x_api_url,
            secret_keys=reader.fernet_keys("RTQ_SECRET_KEY"),
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            max_attempts=reader.positive_int("RTQ_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS),
            retry_backoff=backoff,
            retry_backoff_max=backoff_max,
            sentry_dsn=reader.optional("SENTRY_DSN"),
            key_prefix=reader.key_prefix("RTQ_KEY_PREFIX", DEFAULT_KEY_PREFIX),
            queue=reader.key_prefix("RTQ_QUEUE", DEFAULT_QUEUE),
            job_ttl=reader.positive_int("RTQ_JOB_TTL", DEFAULT_JOB_TTL),
            known_state_ttl=reader.positive_int("RTQ_KNOWN_STATE_TTL", DEFAULT_KNOWN_STATE_TTL),
            rate_limit=rate_limit,
            rate_window=rate_window,
            visibility_timeout=visibility_timeout,
            max_deliveries=reader.positive_int("RTQ_MAX_DELIVERIES", DEFAULT_MAX_DELIVERIES),
            http_connect_timeout=connect_timeout,
            http_read_timeout=read_timeout,
            log_format=reader.choice("RTQ_LOG_FORMAT", ("text", "json"), DEFAULT_LOG_FORMAT),
            oauth2_token_url=reader.http_url("RTQ_OAUTH2_TOKEN_URL", x_api_url + "/2/oauth2/token"),
            oauth2_authorize_url=reader.http_url("RTQ_OAUTH2_AUTHORIZE_URL",
                                                 "https://x.com/i/oauth2/authorize"),
            dlq_max=reader.positive_int("RTQ_DLQ_MAX", DEFAULT_DLQ_MAX),
            dlq_ttl=reader.positive_int("RTQ_DLQ_TTL", DEFAULT_DLQ_TTL),
        )

    @property
    def kombu_prefix(self) -> str:
        """kombu's `global_keyprefix`: empty for the default prefix (so the queue is the plain
        list "rtq" any Celery client reaches), else "<RTQ_KEY_PREFIX>:" so that rtq's Celery
        keys (queue, unacked, bindings) cannot collide with another app's in a shared Redis."""
        return "" if self.key_prefix == DEFAULT_KEY_PREFIX else f"{self.key_prefix}:"

    @property
    def queue_key(self) -> str:
        """The Redis list behind the queue."""
        return self.kombu_prefix + self.queue

    @property
    def task_time_limit(self) -> int:
        """Hard limit of one task run: inside the visibility timeout, with room to settle."""
        return max(2, self.visibility_timeout - 5)

    @property
    def claim_lease_ms(self) -> int:
        """A claim outlives the longest possible run of its task (the hard time limit)."""
        return (self.task_time_limit + 1) * 1000

    def require_secret_keys(self) -> tuple[str, ...]:
        """The Fernet keys, or a SettingsError for the commands that need them."""
        if not self.secret_keys:
            raise SettingsError(
                "RTQ_SECRET_KEY: not set; it is needed to encrypt and decrypt account "
                "credentials (create one with `rtq keygen`)"
            )
        return self.secret_keys


class _Reader:
    """Small typed accessors over the environment, each naming its variable on error."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def optional(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def positive_int(self, name: str, default: int) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}: expected a whole number, got {raw!r}") from None
        if value < 1:
            raise SettingsError(f"{name}: must be at least 1, got {value}")
        return value

    def positive_float(self, name: str, default: float) -> float:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name}: expected a number of seconds, got {raw!r}") from None
        if not value > 0 or value == float("inf"):
            raise SettingsError(f"{name}: must be a positive number of seconds, got {raw!r}")
        return value

    def rate(self, name: str, default: str) -> tuple[int, int]:
        try:
            return parse_rate(self.optional(name) or default)
        except ValueError as exc:
            raise SettingsError(f"{name}: {exc}") from None

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        raw = self.optional(name)
        if raw is None:
            return default
        if raw not in allowed:
            raise SettingsError(f"{name}: expected one of {', '.join(allowed)}, got {raw!r}")
        return raw

    def redis_url(self, name: str, default: str) -> str:
        raw = self.optional(name) or default
        try:
            scheme = urlsplit(raw).scheme
            urlsplit(raw).port  # noqa: B018 - validates the port
        except ValueError:
            raise SettingsError(f"{name}: not a valid URL") from None
        if scheme not in ("redis", "rediss", "unix", "sentinel"):
            # Never echo the URL: it may carry a password.
            raise SettingsError(
                f"{name}: expected a redis://, rediss://, unix:// or sentinel:// URL, "
                f"got scheme {scheme!r}"
            )
        if scheme == "sentinel":
            # Its hosts and ?master= are parsed where clients are built; check them now.
            parse_sentinel_url(raw)
        return raw

    def http_url(self, name: str, default: str) -> str:
        raw = self.optional(name) or default
        try:
            parts = urlsplit(raw)
            parts.port  # noqa: B018 - validates the port
        except ValueError:
            raise SettingsError(f"{name}: not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError(f"{name}: expected an http(s):// URL, got scheme "
                                f"{parts.scheme!r}")
        if parts.username or parts.password:
            raise SettingsError(f"{name}: must not carry credentials")
        if parts.query or parts.fragment:
            raise SettingsError(f"{name}: must not carry a query or fragment")
        return raw.rstrip("/")

    def key_prefix(self, name: str, default: str) -> str:
        raw = self.optional(name) or default
        if not _PREFIX_RE.match(raw):
            raise SettingsError(f"{name}: 1-64 letters, digits or _.:- expected, got {raw!r}")
        return raw

    def fernet_keys(self, name: str) -> tuple[str, ...]:
        raw = self.optional(name)
        if raw is None:
            return ()
        keys = tuple(part.strip() for part in raw.split(",") if part.strip())
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key.encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                # Say which key is wrong, never what it is.
                raise SettingsError(
                    f"{name}: key {position} of {len(keys)} is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes; create one with `rtq keygen`)"
                ) from None
        return keys
