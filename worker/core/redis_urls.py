"""Redis URLs: the `sentinel://` form parsed, and any URL redacted for messages and logs.

Pure string work (no connection, no redis-py), so settings can validate `RTQ_REDIS_URL`
without importing the client module that depends on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from worker.core.errors import SettingsError

SENTINEL_PORT = 26379
_SENTINEL_FORM = (
    "sentinel://[[user]:password@]host[:port][,host[:port]...][/db]?master=name"
    "[&sentinel_password=password]"
)
_SENTINEL_PARAMETERS = frozenset({"master", "sentinel_password"})


@dataclass(frozen=True)
class SentinelURL:
    """A parsed `sentinel://` URL. Secrets stay out of the repr."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)


def is_sentinel(url: str) -> bool:
    return url.startswith("sentinel://")


def parse_sentinel_url(url: str) -> SentinelURL:
    """Parse the sentinel form above; a SettingsError names what is wrong, never the URL (it
    may carry a password)."""
    if not is_sentinel(url):
        raise _invalid("not a sentinel:// URL")
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed [IPv6 bracket
        raise _invalid("a sentinel address is malformed") from None
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    username, password = _userinfo(userinfo) if userinfo else (None, None)
    sentinels = tuple(_host_port(item) for item in hostlist.split(","))
    db_text = parts.path.lstrip("/")
    if db_text and not db_text.isdigit():
        raise _invalid("the path must be a database number")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise _invalid("the query is not name=value pairs") from None
    unknown = sorted(set(query) - _SENTINEL_PARAMETERS)
    if unknown:
        raise _invalid(f"unknown parameter {unknown[0]!r}")
    if any(len(values) > 1 for values in query.values()):
        raise _invalid("a parameter is given twice")
    master = query.get("master", [""])[0]
    if not master:
        raise _invalid("the master name is missing (?master=NAME)")
    return SentinelURL(
        sentinels=sentinels, master=master, db=int(db_text or 0), username=username,
        password=password, sentinel_password=query.get("sentinel_password", [""])[0] or None,
    )


def redact_url(url: str) -> str:
    """The URL with any password replaced, for messages and logs."""
    parts = urlsplit(url)
    query = parts.query
    if "sentinel_password=" in query:
        query = "&".join("sentinel_password=***" if item.startswith("sentinel_password=")
                         else item for item in query.split("&"))
    userinfo, at, hostlist = parts.netloc.rpartition("@")
    if ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    return urlunsplit((parts.scheme, userinfo + at + hostlist, parts.path, query,
                       parts.fragment))


def _userinfo(userinfo: str) -> tuple[str | None, str | None]:
    user, has_password, password = userinfo.partition(":")
    return unquote(user) or None, (unquote(password) or None) if has_password else None


def _host_port(item: str) -> tuple[str, int]:
    if item.startswith("["):  # [IPv6]:port
        host, bracket, rest = item[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise _invalid("a sentinel address is malformed")
        port_text = rest[1:]
    else:
        host, _, port_text = item.partition(":")
    if not host:
        raise _invalid("a sentinel host is missing")
    if not port_text:
        return host, SENTINEL_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise _invalid("a sentinel port is not a number from 1 to 65535")
    return host, int(port_text)


def _invalid(reason: str) -> SettingsError:
    return SettingsError(f"RTQ_REDIS_URL: {reason}; expected {_SENTINEL_FORM}")
