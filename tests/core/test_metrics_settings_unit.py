"""`RTQ_METRICS_PER_ACCOUNT` and `RTQ_METRICS_ACCOUNT_LIMIT`: whether `rtq metrics` exports
per-account series, read and validated like every other setting."""

from __future__ import annotations

import pytest

from worker.core.errors import SettingsError
from worker.core.settings import MetricsSettings, Settings


def test_by_default_per_account_series_are_automatic_up_to_100_accounts():
    """With nothing set: `auto`, limit 100."""
    metrics = Settings.from_env({}).metrics
    assert (metrics.per_account, metrics.account_limit) == ("auto", 100)


@pytest.mark.parametrize("mode", ["auto", "on", "off"])
def test_each_mode_is_read(mode):
    """Each documented mode is accepted as written."""
    assert Settings.from_env({"RTQ_METRICS_PER_ACCOUNT": mode}).metrics.per_account == mode


def test_the_limit_is_read():
    """RTQ_METRICS_ACCOUNT_LIMIT sets the threshold of `auto`."""
    settings = Settings.from_env({"RTQ_METRICS_ACCOUNT_LIMIT": " 2500 "})
    assert settings.metrics.account_limit == 2500


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("RTQ_METRICS_PER_ACCOUNT", "yes"),
        ("RTQ_METRICS_PER_ACCOUNT", "ON"),
        ("RTQ_METRICS_PER_ACCOUNT", "1"),
        ("RTQ_METRICS_ACCOUNT_LIMIT", "0"),
        ("RTQ_METRICS_ACCOUNT_LIMIT", "-5"),
        ("RTQ_METRICS_ACCOUNT_LIMIT", "many"),
        ("RTQ_METRICS_ACCOUNT_LIMIT", "1e4"),
    ],
)
def test_a_bad_value_raises_a_settings_error_starting_with_its_name(variable, raw):
    """A bad value stops start-up with a message that begins with the variable's name."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: raw})
    assert str(caught.value).startswith(f"{variable}:")


def test_blank_values_fall_back_to_the_defaults():
    """Whitespace counts as unset."""
    metrics = Settings.from_env({"RTQ_METRICS_PER_ACCOUNT": " ",
                                 "RTQ_METRICS_ACCOUNT_LIMIT": ""}).metrics
    assert metrics == MetricsSettings()


@pytest.mark.parametrize(
    ("mode", "limit", "accounts", "exported"),
    [
        ("auto", 100, 0, True),
        ("auto", 100, 100, True),
        ("auto", 100, 101, False),
        ("auto", 100, 10_000, False),
        ("auto", 20_000, 10_000, True),
        ("on", 100, 10_000, True),
        ("off", 100, 1, False),
        ("off", 100, 0, False),
    ],
)
def test_per_account_series_follow_the_mode_and_the_account_count(mode, limit, accounts,
                                                                    exported):
    """`auto` exports them up to the limit inclusive; `on` always; `off` never."""
    metrics = MetricsSettings(per_account=mode, account_limit=limit)
    assert metrics.exports_per_account(accounts) is exported
