"""Emulator configuration: the start-up settings and the validated runtime overrides.

`EmulatorConfig` is frozen: the admin API never mutates it, it replaces it with a validated copy
(`merge_config`), and `/_emulator/reset` goes back to the copy the server started with.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

AlreadyRetweeted = Literal["200", "403", "legacy327"]
ALREADY_RETWEETED_MODES: tuple[str, ...] = ("200", "403", "legacy327")

DEFAULT_RATE_LIMIT = 50
DEFAULT_RATE_WINDOW_S = 900.0
DEFAULT_SERVER_ERROR_STATUS = 503
DEFAULT_HANG_SECONDS = 30.0
DEFAULT_TIMESTAMP_TOLERANCE_S = 300.0
DEFAULT_CALL_LOG_LIMIT = 100_000
DEFAULT_OAUTH2_ACCESS_TTL_S = 7200  # X: OAuth 2.0 access tokens live two hours
# RFC 6749 suggests 10 minutes at most; X's docs say its codes expire after 30 seconds.
DEFAULT_OAUTH2_CODE_TTL_S = 600


class ConfigError(ValueError):
    """A configuration key is unknown or its value is invalid; `key` names it for the caller."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True)
class EmulatorConfig:
    """Start-up configuration of the emulator; every fault is off by default."""

    rate_limit: int = DEFAULT_RATE_LIMIT
    rate_window: float = DEFAULT_RATE_WINDOW_S
    # Per user id overrides of `rate_limit` (same window), e.g. a Basic-tier account with 5.
    user_rate_limits: Mapping[str, int] = field(default_factory=dict)
    # Requests per user per 24 hours over retweet + undo; None = X sends no 24-hour headers.
    user_limit_24h: int | None = None
    server_error_rate: float = 0.0
    server_error_status: int = DEFAULT_SERVER_ERROR_STATUS
    latency_ms: float = 0.0
    hang_rate: float = 0.0
    hang_seconds: float = DEFAULT_HANG_SECONDS
    missing_tweets: tuple[str, ...] = ()
    protected_tweets: tuple[str, ...] = ()
    already_retweeted: AlreadyRetweeted = "200"
    read_only_consumers: tuple[str, ...] = ()
    seed: int | None = None
    timestamp_tolerance: float = DEFAULT_TIMESTAMP_TOLERANCE_S
    call_log_limit: int = DEFAULT_CALL_LOG_LIMIT
    # Seconds an OAuth 2.0 access token (and an authorization code) stays valid, on the
    # emulator's clock: tests shorten them or move the clock to see tokens expire.
    oauth2_access_ttl: int = DEFAULT_OAUTH2_ACCESS_TTL_S
    oauth2_code_ttl: int = DEFAULT_OAUTH2_CODE_TTL_S


def _number(key: str, value: Any, *, low: float, high: float = math.inf) -> float:
    # bool is an int subclass: `true` must not pass as 1.
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ConfigError(key, "must be a number")
    if not low <= value <= high:
        raise ConfigError(key, f"must be between {low} and {high}")
    return float(value)


def _integer(key: str, value: Any, *, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, "must be an integer")
    if value < low or (high is not None and value > high):
        raise ConfigError(key, f"must be between {low} and {high if high is not None else 'inf'}")
    return value


def _ids(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(key, "must be a list of strings")
    return tuple(value)


def _user_limits(key: str, value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise ConfigError(key, "must be an object mapping user ids to limits")
    return {str(uid): _integer(f"{key}.{uid}", n, low=0) for uid, n in value.items()}


def _validate(key: str, value: Any) -> Any:
    """Check one key; return the value in the type the dataclass field holds."""
    if key in ("rate_limit", "call_log_limit"):
        return _integer(key, value, low=0)
    if key in ("oauth2_access_ttl", "oauth2_code_ttl"):
        return _integer(key, value, low=1)
    if key == "user_limit_24h":
        return None if value is None else _integer(key, value, low=0)
    if key == "server_error_status":
        return _integer(key, value, low=500, high=599)
    if key == "seed":
        return None if value is None else _integer(key, value, low=-(2**63))
    if key in ("server_error_rate", "hang_rate"):
        return _number(key, value, low=0.0, high=1.0)
    if key == "rate_window":
        if _number(key, value, low=0.0) == 0:
            raise ConfigError(key, "must be positive")
        return float(value)
    if key in ("latency_ms", "hang_seconds", "timestamp_tolerance"):
        return _number(key, value, low=0.0)
    if key in ("missing_tweets", "protected_tweets", "read_only_consumers"):
        return _ids(key, value)
    if key == "user_rate_limits":
        return _user_limits(key, value)
    if key == "already_retweeted":
        if value not in ALREADY_RETWEETED_MODES:
            raise ConfigError(key, f"must be one of {', '.join(ALREADY_RETWEETED_MODES)}")
        return value
    raise ConfigError(key, "unknown configuration key")


CONFIG_KEYS: frozenset[str] = frozenset(f.name for f in dataclasses.fields(EmulatorConfig))


def merge_config(config: EmulatorConfig, updates: Mapping[str, Any]) -> EmulatorConfig:
    """Return `config` with `updates` applied; raise ConfigError naming the first bad key."""
    for key in updates:
        if key not in CONFIG_KEYS:
            raise ConfigError(key, "unknown configuration key")
    return dataclasses.replace(config, **{k: _validate(k, v) for k, v in updates.items()})


def config_to_json(config: EmulatorConfig) -> dict[str, Any]:
    """The config as JSON-ready data (tuples as lists, mappings as objects)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        out[f.name] = (
            list(value)
            if isinstance(value, tuple)
            else (dict(value) if isinstance(value, Mapping) else value)
        )
    return out


def parse_rate_limit(text: str) -> tuple[int, float]:
    """Parse the CLI form `LIMIT/WINDOW_SECONDS` (e.g. `50/900`)."""
    limit, sep, window = text.partition("/")
    try:
        parsed = (int(limit), float(window) if sep else DEFAULT_RATE_WINDOW_S)
    except ValueError:
        raise ConfigError("rate_limit", f"expected LIMIT/SECONDS, got {text!r}") from None
    if parsed[0] < 0 or parsed[1] <= 0:
        raise ConfigError("rate_limit", f"expected a limit >= 0 and a window > 0, got {text!r}")
    return parsed
