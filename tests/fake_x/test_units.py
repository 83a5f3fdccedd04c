"""In-process checks of the small pieces: public surface, config validation, windows, scripts."""

from __future__ import annotations

import pytest

import fake_x
from fake_x.config import ConfigError, EmulatorConfig, merge_config, parse_rate_limit
from fake_x.ratelimit import FixedWindowLimiter
from fake_x.script import Script, ScriptError, parse_rule


def test_public_names_are_exported() -> None:
    """The names the rest of rtq imports exist and `__all__` lists exactly them."""
    expected = {
        "EmulatorAdmin",
        "EmulatorAdminError",
        "EmulatorConfig",
        "EmulatorProcess",
        "create_app",
    }
    assert set(fake_x.__all__) == expected
    assert all(hasattr(fake_x, name) for name in expected)


def test_merge_config_validates_and_names_bad_keys() -> None:
    """Valid updates produce a new frozen config; bad ones name the key."""
    config = merge_config(EmulatorConfig(), {"rate_limit": 5, "missing_tweets": ["1"]})
    assert (config.rate_limit, config.missing_tweets) == (5, ("1",))
    for updates in (
        {"nope": 1},
        {"rate_limit": True},
        {"server_error_rate": 1.5},
        {"already_retweeted": "418"},
        {"user_rate_limits": {"1": -1}},
    ):
        with pytest.raises(ConfigError) as error:
            merge_config(config, updates)
        assert error.value.key.startswith(next(iter(updates)))


def test_parse_rate_limit() -> None:
    """LIMIT/SECONDS, with the 15-minute window as the default."""
    assert parse_rate_limit("50/900") == (50, 900.0)
    assert parse_rate_limit("5") == (5, 900.0)
    for bad in ("fifty", "5/0", "-1/60", "5/x"):
        with pytest.raises(ConfigError):
            parse_rate_limit(bad)


def test_fixed_window_counts_then_refuses_then_reopens() -> None:
    """remaining counts down to 0, the next call is refused, a new window starts at the end."""
    limiter = FixedWindowLimiter()
    quotas = [limiter.hit("1", "retweet", 2, 60, now=1000.5) for _ in range(3)]
    assert [(q.remaining, q.exceeded) for q in quotas] == [(1, False), (0, False), (0, True)]
    assert {q.reset for q in quotas} == {1061}
    reopened = limiter.hit("1", "retweet", 2, 60, now=1060.5)
    assert (reopened.remaining, reopened.reset) == (1, 1121)


def test_peeking_at_a_window_reports_it_without_counting() -> None:
    """peek shows the window a call would find (a fresh one if none is open) and spends nothing."""
    limiter = FixedWindowLimiter()
    fresh = limiter.peek("1", "retweet", 2, 60, now=1000.5)
    assert (fresh.remaining, fresh.reset, fresh.exceeded) == (2, 1061, False)
    limiter.hit("1", "retweet", 2, 60, now=1000.5)
    limiter.hit("1", "retweet", 2, 60, now=1001)
    for _ in range(3):
        full = limiter.peek("1", "retweet", 2, 60, now=1002)
        assert (full.remaining, full.reset, full.exceeded) == (0, 1061, True)
    assert limiter.hit("1", "retweet", 2, 60, now=1061).remaining == 1


def test_script_rules_are_validated_and_consumed_first_match_first() -> None:
    """Rules match on their filters, give up responses in order and vanish when empty."""
    script = Script()
    script.extend(
        [
            parse_rule({"tweet_id": "1", "responses": [{"status": 503}]}),
            parse_rule({"responses": [{"status": 500}, {"status": 200}]}),
        ]
    )
    assert script.take("9", "2", "me") is None  # rules without an action skip users/me
    assert [
        r.status
        for r in (
            script.take("9", "1", "retweet"),
            script.take("9", "1", "undo"),
            script.take("9", "1", "undo"),
        )
        if r
    ] == [503, 500, 200]
    assert script.take("9", "1", "undo") is None
    bad_rules: list[dict[str, object]] = [
        {"responses": []},
        {"responses": [{"status": 302}]},
        {"action": "like", "responses": [{"status": 200}]},
        {"responses": [{"status": 200}], "x": 1},
    ]
    for bad in bad_rules:
        with pytest.raises(ScriptError):
            parse_rule(bad)
