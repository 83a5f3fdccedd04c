"""One way to build Redis clients from settings, with bounded timeouts (no hang on enqueue)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis

CONNECT_TIMEOUT = 5.0
SOCKET_TIMEOUT = 10.0


def connect(url: str, *, socket_timeout: float = SOCKET_TIMEOUT) -> redis.Redis:
    """A client for `url`; connects lazily. Sentinel and TLS come from the URL scheme."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=socket_timeout,
        health_check_interval=30,
        decode_responses=True,
    )


def redact_url(url: str) -> str:
    """The URL with any password replaced, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))
