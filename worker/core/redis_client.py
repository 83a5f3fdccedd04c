"""One way to build Redis clients from settings, with bounded timeouts (no hang on enqueue).

`RTQ_REDIS_URL` forms (deploy/README.md, "Redis"):

    redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
    rediss://[[USER]:PASSWORD@]HOST[:PORT][/DB][?ssl_ca_certs=/path/ca.pem]   (TLS)
    unix://[[USER]:PASSWORD@]/path/redis.sock[?db=DB]
    sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...][/DB]?master=NAME
        [&sentinel_password=PASSWORD]

For Sentinel the hosts are the sentinels (port 26379 unless given), `master` is the name they
monitor, USER/PASSWORD authenticate to the master and `sentinel_password` to the sentinels
(when they have a `requirepass` of their own). TLS through Sentinel is not supported.
"""

from __future__ import annotations

import redis
from redis.sentinel import Sentinel

from worker.core.redis_urls import SentinelURL, is_sentinel, parse_sentinel_url, redact_url

__all__ = ["connect", "is_sentinel", "parse_sentinel_url", "redact_url", "sentinel_kwargs"]

CONNECT_TIMEOUT = 5.0
SOCKET_TIMEOUT = 10.0


def connect(url: str, *, socket_timeout: float = SOCKET_TIMEOUT) -> redis.Redis:
    """A client for `url`; connects lazily. For Sentinel, a client of the current master that
    follows a failover (it asks the sentinels again when its connection breaks)."""
    options = {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": socket_timeout,
        "health_check_interval": 30,
        "decode_responses": True,
    }
    if not is_sentinel(url):
        return redis.Redis.from_url(url, **options)
    target = parse_sentinel_url(url)
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=sentinel_kwargs(target),
                        **options)
    return sentinel.master_for(target.master, db=target.db, username=target.username,
                               password=target.password)


def sentinel_kwargs(target: SentinelURL) -> dict[str, float | str]:
    """How to reach the sentinels themselves: bounded timeouts, and their password if any."""
    kwargs: dict[str, float | str] = {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": SOCKET_TIMEOUT,
    }
    if target.sentinel_password:
        kwargs["password"] = target.sentinel_password
    return kwargs
