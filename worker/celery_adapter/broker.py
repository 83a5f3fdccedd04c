"""How Celery reaches Redis: the broker URL, transport options and transport class for a
`Settings` (the URL forms are in `worker.core.redis_client`).

- `redis://` passes through as it is.
- `rediss://` (TLS) passes through with `ssl_cert_reqs=required` added unless the URL says
  otherwise: our transport is named explicitly (`broker_transport`), so kombu cannot tell TLS from
  the scheme and, given no `ssl_*` parameter, would speak plain text to the TLS port.
- `sentinel://h1:26379,h2:26379/0?master=m` becomes kombu's form, one URL per sentinel joined by
  `;` (each with the master's credentials and database, since kombu may switch to any of them),
  with the master name and the sentinels' own password as transport options; the transport is
  kombu's Sentinel transport with the same guard as `worker.celery_adapter.transport.Transport`.
- `unix://` is refused: kombu reads a socket path only from its own `redis+socket://` form, which
  replaces the transport we name with kombu's unguarded one. Producers and the CLI (redis-py)
  do accept `unix://`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from kombu.transport import redis as kombu_redis

from worker.celery_adapter.transport import GuardedChannel
from worker.core.errors import SettingsError
from worker.core.redis_client import is_sentinel, parse_sentinel_url, sentinel_kwargs
from worker.core.settings import Settings

TRANSPORT = "worker.celery_adapter.transport:Transport"
SENTINEL_TRANSPORT = "worker.celery_adapter.broker:SentinelTransport"


def broker_url(settings: Settings) -> str:
    url = settings.redis_url
    if is_sentinel(url):
        return _kombu_sentinel_url(url)
    parts = urlsplit(url)
    if parts.scheme == "unix":
        raise SettingsError(
            "RTQ_REDIS_URL: Celery workers cannot use a unix:// socket; give them "
            "redis://, rediss:// or sentinel://"
        )
    if parts.scheme == "rediss":
        query = parse_qsl(parts.query, keep_blank_values=True)
        if not any(name == "ssl_cert_reqs" for name, _ in query):
            # Verify the server's certificate (against the system CAs or ssl_ca_certs), as
            # redis-py does by default for rediss://.
            query.append(("ssl_cert_reqs", "required"))
        return urlunsplit(parts._replace(query=urlencode(query, safe="/")))
    return url


def transport(settings: Settings) -> str:
    """Celery's `broker_transport`: our guarded transport, for Sentinel its Sentinel form."""
    return SENTINEL_TRANSPORT if is_sentinel(settings.redis_url) else TRANSPORT


def transport_options(settings: Settings) -> dict[str, Any]:
    """Options kombu needs beyond rtq's reliability settings (Sentinel)."""
    if not is_sentinel(settings.redis_url):
        return {}
    target = parse_sentinel_url(settings.redis_url)
    return {"master_name": target.master, "sentinel_kwargs": sentinel_kwargs(target)}


def _kombu_sentinel_url(url: str) -> str:
    target = parse_sentinel_url(url)
    userinfo = ""
    if target.username or target.password:
        user, password = (quote(value or "", safe="") for value in (target.username,
                                                                   target.password))
        userinfo = f"{user}:{password}@"
    return ";".join(
        f"sentinel://{userinfo}{_host(host)}:{port}/{target.db}" for host, port in target.sentinels
    )


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class GuardedSentinelChannel(GuardedChannel, kombu_redis.SentinelChannel):
    """kombu's Sentinel channel (it finds the master through the sentinels) with our guard
    against queue entries that are not kombu messages."""


class SentinelTransport(kombu_redis.SentinelTransport):
    Channel = GuardedSentinelChannel
