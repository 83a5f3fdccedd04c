"""`worker.core.settings.Settings.from_env`: defaults, validation, and keeping secrets out of
sight."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.fernet import Fernet

from worker.core.errors import SettingsError
from worker.core.settings import Settings

KEY_1 = Fernet.generate_key().decode()
KEY_2 = Fernet.generate_key().decode()
REDIS_PASSWORD = "hunter2-redis-pw"
CONSUMER_SECRET = "cs-very-secret-value"
SENTRY_DSN = "https://publickey123@o1.ingest.sentry.io/42"


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("redis_url", "redis://127.0.0.1:6379/0"),
        ("x_api_url", "https://api.x.com"),
        ("secret_keys", ()),
        ("consumer_key", None),
        ("consumer_secret", None),
        ("max_attempts", 5),
        ("retry_backoff", 1.0),
        ("retry_backoff_max", 60.0),
        ("sentry_dsn", None),
        ("key_prefix", "rtq"),
        ("job_ttl", 7 * 24 * 3600),
        ("known_state_ttl", 30 * 24 * 3600),
        ("rate_window", 900),
        ("visibility_timeout", 30),
        ("max_deliveries", 5),
        ("http_connect_timeout", 3.05),
        ("http_read_timeout", 10.0),
        ("log_format", "text"),
    ],
)
def test_an_empty_environment_gives_the_documented_defaults(attribute, expected):
    """With nothing set, every setting has its documented default."""
    assert getattr(Settings.from_env({}), attribute) == expected


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"], ids=repr)
def test_blank_values_count_as_unset(blank):
    """A variable set to whitespace falls back to its default instead of failing."""
    settings = Settings.from_env({"RTQ_MAX_ATTEMPTS": blank, "RTQ_REDIS_URL": blank})
    assert settings.max_attempts == 5
    assert settings.redis_url == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("variable", "raw", "attribute", "expected"),
    [
        ("RTQ_REDIS_URL", "rediss://:pw@cache.example:6380/2", "redis_url",
         "rediss://:pw@cache.example:6380/2"),
        ("RTQ_REDIS_URL", "unix:///run/redis.sock", "redis_url", "unix:///run/redis.sock"),
        ("RTQ_X_API_URL", "http://127.0.0.1:8080", "x_api_url", "http://127.0.0.1:8080"),
        ("RTQ_X_API_URL", "https://api.twitter.com/", "x_api_url", "https://api.twitter.com"),
        ("RTQ_MAX_ATTEMPTS", "3", "max_attempts", 3),
        ("RTQ_MAX_ATTEMPTS", " 7 ", "max_attempts", 7),
        ("RTQ_RETRY_BACKOFF", "0.5", "retry_backoff", 0.5),
        ("RTQ_RETRY_BACKOFF_MAX", "120", "retry_backoff_max", 120.0),
        ("SENTRY_DSN", SENTRY_DSN, "sentry_dsn", SENTRY_DSN),
        ("RTQ_KEY_PREFIX", "rtq:test-1.a_b", "key_prefix", "rtq:test-1.a_b"),
        ("RTQ_JOB_TTL", "60", "job_ttl", 60),
        ("RTQ_KNOWN_STATE_TTL", "61", "known_state_ttl", 61),
        ("RTQ_RATE_LIMIT", "5/62", "rate_window", 62),
        ("RTQ_RATE_LIMIT", " 5 / 62 ", "rate_limit", 5),
        ("RTQ_VISIBILITY_TIMEOUT", "63", "visibility_timeout", 63),
        ("RTQ_MAX_DELIVERIES", "9", "max_deliveries", 9),
        ("RTQ_HTTP_CONNECT_TIMEOUT", "1.5", "http_connect_timeout", 1.5),
        ("RTQ_HTTP_READ_TIMEOUT", "2", "http_read_timeout", 2.0),
        ("RTQ_LOG_FORMAT", "json", "log_format", "json"),
    ],
)
def test_valid_values_are_read_into_their_setting(variable, raw, attribute, expected):
    """Each variable, when valid, sets its attribute (URLs lose a trailing slash)."""
    assert getattr(Settings.from_env({variable: raw}), attribute) == expected


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("RTQ_REDIS_URL", "http://127.0.0.1:6379/0"),
        ("RTQ_REDIS_URL", "127.0.0.1:6379"),
        ("RTQ_REDIS_URL", "memory://"),
        ("RTQ_X_API_URL", "ftp://api.x.com"),
        ("RTQ_X_API_URL", "api.x.com"),
        ("RTQ_X_API_URL", "https://"),
        ("RTQ_X_API_URL", "https://api.x.com?debug=1"),
        ("RTQ_X_API_URL", "https://api.x.com#top"),
        ("RTQ_SECRET_KEY", "not-a-fernet-key"),
        ("RTQ_MAX_ATTEMPTS", "0"),
        ("RTQ_MAX_ATTEMPTS", "-1"),
        ("RTQ_MAX_ATTEMPTS", "five"),
        ("RTQ_MAX_ATTEMPTS", "1.5"),
        ("RTQ_RETRY_BACKOFF", "0"),
        ("RTQ_RETRY_BACKOFF", "-1"),
        ("RTQ_RETRY_BACKOFF", "nan"),
        ("RTQ_RETRY_BACKOFF", "inf"),
        ("RTQ_RETRY_BACKOFF", "soon"),
        ("RTQ_RETRY_BACKOFF_MAX", "0.5"),
        ("RTQ_RETRY_BACKOFF_MAX", "0"),
        ("RTQ_RETRY_BACKOFF_MAX", "1e400"),
        ("RTQ_KEY_PREFIX", "has space"),
        ("RTQ_KEY_PREFIX", "a/b"),
        ("RTQ_KEY_PREFIX", "p" * 65),
        ("RTQ_JOB_TTL", "0"),
        ("RTQ_KNOWN_STATE_TTL", "week"),
        ("RTQ_RATE_LIMIT", "-900"),
        ("RTQ_RATE_LIMIT", "50"),
        ("RTQ_RATE_LIMIT", "0/900"),
        ("RTQ_RATE_LIMIT", "50/0"),
        ("RTQ_VISIBILITY_TIMEOUT", "0"),
        ("RTQ_MAX_DELIVERIES", "0"),
        ("RTQ_HTTP_CONNECT_TIMEOUT", "0"),
        ("RTQ_HTTP_READ_TIMEOUT", "-10"),
        ("RTQ_LOG_FORMAT", "xml"),
        ("RTQ_LOG_FORMAT", "JSON"),
    ],
)
def test_each_invalid_variable_raises_a_settings_error_starting_with_its_name(variable, raw):
    """A bad value fails at start-up with a message that begins with the variable's name."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: raw})
    assert str(caught.value).startswith(f"{variable}:")


def test_settings_error_is_a_value_error():
    """`SettingsError` is a ValueError."""
    assert issubclass(SettingsError, ValueError)


def test_backoff_max_below_backoff_names_the_max_and_both_values():
    """RTQ_RETRY_BACKOFF_MAX smaller than RTQ_RETRY_BACKOFF is refused, naming the max."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"RTQ_RETRY_BACKOFF": "10", "RTQ_RETRY_BACKOFF_MAX": "5"})
    message = str(caught.value)
    assert message.startswith("RTQ_RETRY_BACKOFF_MAX:")
    assert "RTQ_RETRY_BACKOFF" in message.split(":", 1)[1]


def test_backoff_max_equal_to_backoff_is_accepted():
    """Equal backoff and cap is a constant backoff, which is allowed."""
    settings = Settings.from_env({"RTQ_RETRY_BACKOFF": "5", "RTQ_RETRY_BACKOFF_MAX": "5"})
    assert (settings.retry_backoff, settings.retry_backoff_max) == (5.0, 5.0)


@pytest.mark.parametrize(
    "bad_key",
    ["this-is-my-secret-but-not-fernet", "c2VjcmV0LWtleS1ub3QtMzItYnl0ZXM=", "ключ-секрет"],
)
def test_a_bad_secret_key_is_never_echoed(bad_key):
    """The error for an invalid RTQ_SECRET_KEY says which key is wrong, never what it is."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"RTQ_SECRET_KEY": bad_key})
    message = str(caught.value)
    assert message.startswith("RTQ_SECRET_KEY:")
    assert bad_key not in message
    assert "key 1 of 1" in message


def test_a_bad_second_key_is_identified_by_position_without_echoing_either_key():
    """With one good and one bad key, the message points at key 2 and shows neither."""
    bad = "bad-second-key-value"
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"RTQ_SECRET_KEY": f"{KEY_1},{bad}"})
    message = str(caught.value)
    assert "key 2 of 2" in message
    assert KEY_1 not in message
    assert bad not in message


def test_several_comma_separated_fernet_keys_are_accepted_in_order():
    """RTQ_SECRET_KEY may hold several keys; spaces around commas are ignored, order is kept."""
    settings = Settings.from_env({"RTQ_SECRET_KEY": f" {KEY_1} , {KEY_2} "})
    assert settings.secret_keys == (KEY_1, KEY_2)


@pytest.mark.parametrize(
    "url",
    [
        f"http://:{REDIS_PASSWORD}@cache.example:6379/0",
        f"https://user:{REDIS_PASSWORD}@cache.example/0",
        f"cache.example:{REDIS_PASSWORD}@host",
    ],
)
def test_a_redis_password_never_appears_in_the_error_message(url):
    """A rejected RTQ_REDIS_URL is described by its scheme, never echoed with its password."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"RTQ_REDIS_URL": url})
    message = str(caught.value)
    assert message.startswith("RTQ_REDIS_URL:")
    assert REDIS_PASSWORD not in message


def test_a_redis_url_that_urlsplit_cannot_parse_is_a_settings_error_naming_the_variable():
    """A redis URL with a broken IPv6 host still fails with a SettingsError naming the variable."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"RTQ_REDIS_URL": f"redis://:{REDIS_PASSWORD}@[::1:6379/0"})
    assert str(caught.value).startswith("RTQ_REDIS_URL:")
    assert REDIS_PASSWORD not in str(caught.value)


def test_an_x_api_url_that_urlsplit_cannot_parse_is_a_settings_error_naming_the_variable():
    """An X API URL with a broken IPv6 host fails with a SettingsError naming the variable."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"RTQ_X_API_URL": "https://[::1"})
    assert str(caught.value).startswith("RTQ_X_API_URL:")


def test_repr_shows_no_secret():
    """repr(settings) leaves out the Fernet keys, consumer secret, Redis URL and Sentry DSN."""
    # Given settings carrying every kind of secret
    settings = Settings.from_env({
        "RTQ_REDIS_URL": f"redis://:{REDIS_PASSWORD}@cache.example:6379/0",
        "RTQ_SECRET_KEY": f"{KEY_1},{KEY_2}",
        "RTQ_CONSUMER_KEY": "consumer-key-123",
        "RTQ_CONSUMER_SECRET": CONSUMER_SECRET,
        "SENTRY_DSN": SENTRY_DSN,
    })
    # When it is printed
    text = repr(settings)
    # Then none of them shows, while ordinary settings still do
    for secret in (REDIS_PASSWORD, KEY_1, KEY_2, "consumer-key-123", CONSUMER_SECRET,
                   "publickey123", "redis://"):
        assert secret not in text
    assert "max_attempts=5" in text


def test_require_secret_keys_without_a_key_names_rtq_secret_key():
    """Commands that need the keys fail with a message naming RTQ_SECRET_KEY."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({}).require_secret_keys()
    assert str(caught.value).startswith("RTQ_SECRET_KEY:")


def test_require_secret_keys_returns_the_configured_keys():
    """With keys configured, `require_secret_keys` returns them in order."""
    settings = Settings.from_env({"RTQ_SECRET_KEY": f"{KEY_2},{KEY_1}"})
    assert settings.require_secret_keys() == (KEY_2, KEY_1)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"RTQ_CONSUMER_KEY": "ck"}, "RTQ_CONSUMER_SECRET"),
        ({"RTQ_CONSUMER_SECRET": CONSUMER_SECRET}, "RTQ_CONSUMER_KEY"),
        ({"RTQ_CONSUMER_KEY": "ck", "RTQ_CONSUMER_SECRET": "  "}, "RTQ_CONSUMER_SECRET"),
    ],
)
def test_a_consumer_key_without_its_secret_or_the_reverse_is_an_error(env, named):
    """RTQ_CONSUMER_KEY and RTQ_CONSUMER_SECRET go together; the missing one is named."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    assert message.startswith(f"{named}:")
    assert CONSUMER_SECRET not in message


def test_consumer_key_and_secret_together_are_read():
    """Both consumer variables set gives both attributes."""
    settings = Settings.from_env({"RTQ_CONSUMER_KEY": "ck", "RTQ_CONSUMER_SECRET": "cs"})
    assert (settings.consumer_key, settings.consumer_secret) == ("ck", "cs")


def test_settings_are_frozen():
    """Settings cannot be changed after they are read."""
    settings = Settings.from_env({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_attempts = 99  # type: ignore[misc]
    assert settings.max_attempts == 5


def test_from_env_without_a_mapping_reads_the_process_environment(monkeypatch):
    """`from_env()` with no argument reads os.environ."""
    monkeypatch.setenv("RTQ_MAX_ATTEMPTS", "11")
    assert Settings.from_env().max_attempts == 11


def test_a_trailing_comma_in_the_secret_key_list_is_ignored() -> None:
    """`KEY1,` is one key: empty items between commas are skipped, not rejected."""
    settings = Settings.from_env({"RTQ_SECRET_KEY": f"{KEY_1},"})
    assert settings.secret_keys == (KEY_1,)


@pytest.mark.parametrize(("raw", "expected"), [
    ("", None), ("off", None), ("900", 900), ("15m", 900), ("1h30m", 5400), ("2d", 172800),
])
def test_rtq_job_max_delay_is_off_by_default_or_a_duration(raw, expected):
    """RTQ_JOB_MAX_DELAY: unset or `off` gives jobs no deadline; else seconds or 15m, 2h..."""
    assert Settings.from_env({"RTQ_JOB_MAX_DELAY": raw}).job_max_delay == expected


@pytest.mark.parametrize("raw", ["soon", "-5", "15 minutes", "0s", "1.5h"])
def test_a_bad_rtq_job_max_delay_names_the_variable(raw):
    with pytest.raises(SettingsError, match=r"^RTQ_JOB_MAX_DELAY: "):
        Settings.from_env({"RTQ_JOB_MAX_DELAY": raw})
