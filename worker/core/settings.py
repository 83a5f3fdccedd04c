"""Settings, read once from the environment into a frozen object.

Every variable is validated when read; a bad value raises `SettingsError` naming the variable
(never echoing a secret's value). Nothing else in rtq reads `os.environ` for configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from worker.core.env import EnvReader
from worker.core.errors import SettingsError

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
# The circuit breaker for calls to X (worker/domain/lua/settle.lua opens it, begin.lua obeys).
DEFAULT_BREAKER_THRESHOLD = 0.5
DEFAULT_BREAKER_MIN_CALLS = 20
DEFAULT_BREAKER_WINDOW = 10
DEFAULT_BREAKER_COOLDOWN = 15
DEFAULT_BREAKER_PROBES = 3
# Per-account Prometheus series (worker/ops/metrics.py): `auto` exports them only up to this
# many accounts, so a large deployment's scrape stays small.
DEFAULT_METRICS_ACCOUNT_LIMIT = 100
METRICS_PER_ACCOUNT = ("auto", "on", "off")

DEFAULT_QUEUE = "rtq"


@dataclass(frozen=True)
class BreakerSettings:
    """When failed calls to X (5xx, timeouts) reach `threshold` of at least `min_calls` calls
    in a window of `window` seconds (and the one before), every worker stops calling X for
    `cooldown` seconds, then lets `probes` calls through; a success closes it."""

    enabled: bool = True
    threshold: float = DEFAULT_BREAKER_THRESHOLD
    min_calls: int = DEFAULT_BREAKER_MIN_CALLS
    window: int = DEFAULT_BREAKER_WINDOW
    cooldown: int = DEFAULT_BREAKER_COOLDOWN
    probes: int = DEFAULT_BREAKER_PROBES


@dataclass(frozen=True)
class MetricsSettings:
    """Whether `rtq metrics` exports per-account series (`rtq_budget_remaining`, ...): `on`,
    `off`, or `auto`, which exports them while the deployment has at most `account_limit`
    accounts. The aggregate series are exported either way."""

    per_account: str = "auto"
    account_limit: int = DEFAULT_METRICS_ACCOUNT_LIMIT

    def exports_per_account(self, accounts: int) -> bool:
        """Whether a scrape of a deployment with `accounts` accounts carries per-account series."""
        if self.per_account == "auto":
            return accounts <= self.account_limit
        return self.per_account == "on"


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
    breaker: BreakerSettings = BreakerSettings()
    metrics: MetricsSettings = MetricsSettings()
    # The deadline of jobs enqueued without one (seconds after they are due; None: none).
    job_max_delay: int | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        reader = EnvReader(env)
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
            breaker=BreakerSettings(
                enabled=reader.choice("RTQ_BREAKER", ("on", "off"), "on") == "on",
                threshold=reader.fraction("RTQ_BREAKER_THRESHOLD", DEFAULT_BREAKER_THRESHOLD),
                min_calls=reader.positive_int("RTQ_BREAKER_MIN_CALLS", DEFAULT_BREAKER_MIN_CALLS),
                window=reader.positive_int("RTQ_BREAKER_WINDOW", DEFAULT_BREAKER_WINDOW),
                cooldown=reader.positive_int("RTQ_BREAKER_COOLDOWN", DEFAULT_BREAKER_COOLDOWN),
                probes=reader.positive_int("RTQ_BREAKER_PROBES", DEFAULT_BREAKER_PROBES),
            ),
            job_max_delay=reader.optional_duration("RTQ_JOB_MAX_DELAY"),
            metrics=MetricsSettings(
                per_account=reader.choice("RTQ_METRICS_PER_ACCOUNT", METRICS_PER_ACCOUNT, "auto"),
                account_limit=reader.positive_int("RTQ_METRICS_ACCOUNT_LIMIT",
                                                  DEFAULT_METRICS_ACCOUNT_LIMIT),
            ),
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
