"""Reading environment variables, one typed helper per kind of value: each names the variable
in its `SettingsError` and never echoes a value that may be secret."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from worker.core.durations import parse_duration_text
from worker.core.errors import SettingsError
from worker.core.redis_urls import parse_sentinel_url

_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def parse_rate(text: str) -> tuple[int, int]:
    """`LIMIT/SECONDS` (e.g. `50/900`: 50 calls per 15 minutes) as (limit, window)."""
    match = re.fullmatch(r"\s*([0-9]{1,6})\s*/\s*([0-9]{1,6})\s*", text)
    if match is None or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise ValueError(f"expected LIMIT/SECONDS such as 50/900, got {text!r}")
    return int(match.group(1)), int(match.group(2))


Number = TypeVar("Number", int, float)


class EnvReader:
    """Small typed accessors over the environment, each naming its variable on error."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def optional(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def positive_int(self, name: str, default: int) -> int:
        value = self._number(name, default, int, "a whole number")
        if value < 1:
            raise SettingsError(f"{name}: must be at least 1, got {value}")
        return value

    def positive_float(self, name: str, default: float) -> float:
        value = self._number(name, default, float, "a number of seconds")
        if not value > 0 or value == float("inf"):
            raise SettingsError(f"{name}: must be a positive number of seconds, "
                                f"got {self.optional(name)!r}")
        return value

    def fraction(self, name: str, default: float) -> float:
        value = self._number(name, default, float, "a fraction such as 0.5")
        if not 0 < value <= 1:
            raise SettingsError(f"{name}: must be above 0 and at most 1, "
                                f"got {self.optional(name)!r}")
        return value

    def _number(self, name: str, default: Number, parse: type[Number], what: str) -> Number:
        """The variable parsed as a number (`default` when unset); its range is the caller's."""
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError:
            raise SettingsError(f"{name}: expected {what}, got {raw!r}") from None

    def optional_duration(self, name: str) -> int | None:
        """Whole seconds, written `900`, `15m`, `1h30m`, `2d`...; None when unset or `off`."""
        raw = self.optional(name)
        if raw is None or raw == "off":
            return None
        delay = (parse_duration_text(raw) if not raw.isdigit()
                 else parse_duration_text(raw + "s"))
        if delay is None:
            raise SettingsError(f"{name}: expected a duration such as 15m, 2h or 1d (or off), "
                                f"got {raw!r}")
        if delay.total_seconds() < 1:
            raise SettingsError(f"{name}: must be at least 1 second, got {raw!r}")
        return int(delay.total_seconds())

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
