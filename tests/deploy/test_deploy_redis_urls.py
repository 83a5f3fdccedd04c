"""RTQ_REDIS_URL in production forms: what Celery (kombu) and redis-py are given for passwords,
TLS and Sentinel. The real servers are exercised in test_deploy_redis_ha.py."""

from __future__ import annotations

import ssl

import pytest
from kombu import Connection
from kombu.transport import redis as kombu_redis
from redis.sentinel import SentinelConnectionPool

from worker.celery_adapter import broker
from worker.celery_adapter.transport import GuardedChannel
from worker.core.errors import SettingsError
from worker.core.redis_client import connect, parse_sentinel_url, redact_url
from worker.core.settings import Settings

SENTINEL_URL = ("sentinel://:p%40ss@s1.example,s2.example:26380,[fd00::3]:26381/2"
                "?master=rtq-main&sentinel_password=s3cret")


def settings_for(url: str) -> Settings:
    return Settings.from_env({"RTQ_REDIS_URL": url})


def kombu_connection(settings: Settings) -> Connection:
    """The connection Celery builds from our configuration (no I/O until used)."""
    return Connection(broker.broker_url(settings), transport=broker.transport(settings),
                      transport_options=broker.transport_options(settings))


def test_sentinel_url_names_every_sentinel_the_master_and_both_passwords() -> None:
    """Hosts default to port 26379; passwords are percent-decoded; the path is the database."""
    target = parse_sentinel_url(SENTINEL_URL)
    assert target.sentinels == (("s1.example", 26379), ("s2.example", 26380), ("fd00::3", 26381))
    assert (target.master, target.db) == ("rtq-main", 2)
    assert (target.username, target.password, target.sentinel_password) == (None, "p@ss", "s3cret")
    assert "p@ss" not in repr(target) and "s3cret" not in repr(target)


def test_sentinel_becomes_one_kombu_url_per_sentinel_with_the_master_credentials() -> None:
    """kombu may switch to any sentinel URL, so each carries the password and database."""
    url = broker.broker_url(settings_for(SENTINEL_URL))
    assert url.split(";") == [
        "sentinel://:p%40ss@s1.example:26379/2",
        "sentinel://:p%40ss@s2.example:26380/2",
        "sentinel://:p%40ss@[fd00::3]:26381/2",
    ]


def test_sentinel_transport_options_name_the_master_and_authenticate_to_the_sentinels() -> None:
    """The sentinels' own password and bounded timeouts reach kombu as sentinel_kwargs."""
    options = broker.transport_options(settings_for(SENTINEL_URL))
    assert options["master_name"] == "rtq-main"
    assert options["sentinel_kwargs"]["password"] == "s3cret"
    assert options["sentinel_kwargs"]["socket_timeout"] > 0
    plain = broker.transport_options(settings_for("sentinel://h1?master=m"))
    assert "password" not in plain["sentinel_kwargs"]


def test_sentinel_uses_kombus_sentinel_channel_with_our_guard() -> None:
    """The worker's Sentinel channel still turns unreadable queue entries into dead letters."""
    settings = settings_for(SENTINEL_URL)
    connection = kombu_connection(settings)
    channel_class = connection.transport.Channel
    assert issubclass(channel_class, GuardedChannel)
    assert issubclass(channel_class, kombu_redis.SentinelChannel)
    assert (connection.hostname, connection.port, connection.password) == (
        "s1.example", 26379, "p@ss")
    assert broker.transport(settings_for("redis://h/0")) == broker.TRANSPORT


def test_connect_to_sentinel_asks_for_the_master_with_our_timeouts() -> None:
    """redis-py gets a Sentinel-managed pool for the named master, decoding replies."""
    client = connect(SENTINEL_URL)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "rtq-main"
    kwargs = pool.connection_kwargs
    assert (kwargs["db"], kwargs["password"], kwargs["decode_responses"]) == (2, "p@ss", True)
    assert kwargs["socket_timeout"] == 10.0 and kwargs["socket_connect_timeout"] == 5.0
    sentinel = pool.sentinel_manager.sentinels[0].connection_pool.connection_kwargs
    assert (sentinel["host"], sentinel["password"]) == ("s1.example", "s3cret")


def test_rediss_gets_certificate_verification_when_the_url_says_nothing() -> None:
    """Without an ssl_* parameter kombu would speak plain text to the TLS port."""
    settings = settings_for("rediss://:pw@cache.example:6380/1?ssl_ca_certs=/etc/rtq/ca.pem")
    url = broker.broker_url(settings)
    assert url == ("rediss://:pw@cache.example:6380/1?ssl_ca_certs=/etc/rtq/ca.pem"
                   "&ssl_cert_reqs=required")
    tls = kombu_connection(settings).ssl
    assert tls == {"ssl_ca_certs": "/etc/rtq/ca.pem", "ssl_cert_reqs": ssl.CERT_REQUIRED}
    bare = kombu_connection(settings_for("rediss://cache.example:6380/0"))
    assert bare.ssl == {"ssl_cert_reqs": ssl.CERT_REQUIRED}


def test_rediss_keeps_an_explicit_certificate_requirement() -> None:
    """An operator's own ssl_cert_reqs is not overridden."""
    url = broker.broker_url(settings_for("rediss://cache.example/0?ssl_cert_reqs=optional"))
    assert url == "rediss://cache.example/0?ssl_cert_reqs=optional"


def test_plain_redis_urls_pass_through_unchanged() -> None:
    """Passwords, users and databases reach kombu as written."""
    url = "redis://rtq:p%40ss@cache.example:6379/3"
    settings = settings_for(url)
    assert broker.broker_url(settings) == url
    assert broker.transport_options(settings) == {}
    connection = kombu_connection(settings)
    assert (connection.userid, connection.password, connection.virtual_host) == (
        "rtq", "p@ss", "3")


def test_unix_sockets_are_refused_for_workers_with_a_reason() -> None:
    """kombu cannot be given a socket path through our transport: say so instead of failing
    later with "Database is int between 0 and limit - 1"."""
    with pytest.raises(SettingsError, match="RTQ_REDIS_URL: Celery workers cannot use a unix"):
        broker.broker_url(settings_for("unix:///run/redis/redis.sock"))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("sentinel://:pw@h1:26379/0", "the master name is missing"),
        ("sentinel://:pw@h1:26379/0?master=", "the master name is missing"),
        ("sentinel://:pw@h1/0?master=m&ssl=true", "unknown parameter 'ssl'"),
        ("sentinel://:pw@h1/0?master=m&master=n", "a parameter is given twice"),
        ("sentinel://:pw@h1:notaport/0?master=m", "a sentinel port is not a number"),
        ("sentinel://:pw@h1:70000/0?master=m", "a sentinel port is not a number"),
        ("sentinel://:pw@h1,,h2/0?master=m", "a sentinel host is missing"),
        ("sentinel://:pw@[::1/0?master=m", "a sentinel address is malformed"),
        ("sentinel://:pw@h1/zero?master=m", "the path must be a database number"),
    ],
)
def test_a_bad_sentinel_url_is_named_without_echoing_its_password(url: str, reason: str) -> None:
    """Every mistake names RTQ_REDIS_URL and the expected form, never the password."""
    with pytest.raises(SettingsError) as caught:
        parse_sentinel_url(url)
    message = str(caught.value)
    assert message.startswith("RTQ_REDIS_URL: ") and reason in message
    assert "sentinel://[[user]:password@]host" in message and "pw" not in message


def test_redacted_urls_hide_every_password() -> None:
    """Logs and errors may show a Sentinel URL, without the master's or sentinels' password."""
    assert redact_url(SENTINEL_URL) == (
        "sentinel://:***@s1.example,s2.example:26380,[fd00::3]:26381/2"
        "?master=rtq-main&sentinel_password=***")
    assert redact_url("rediss://rtq:pw@h:6380/0") == "rediss://rtq:***@h:6380/0"
    assert redact_url("redis://h:6379/0") == "redis://h:6379/0"
