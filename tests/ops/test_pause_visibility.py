"""Pauses in force are visible where operators look: `rtq stats` (text and JSON), the
Prometheus exporter (bounded: a few series whatever the number of paused accounts) and the
web console's overview."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.ops.test_metrics import Exporter, value
from tests.support import Rtq, wait_for
from tests.web.conftest import FULL_TOKEN, Console, start_console, stop_console
from worker.core.keys import Keys
from worker.domain.pauses import Pauses
from worker.ops.metrics import families
from worker.ops.stats import StatsReader

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture
def exporter(rtq_env: dict[str, str]) -> Iterator[Exporter]:
    process = Exporter(rtq_env)
    yield process
    process.close()


def held(rtq: Rtq, scope: str) -> int:
    return int(rtq.redis.llen(Keys().paused(scope)))


def test_stats_metrics_and_the_console_show_each_pause_its_start_and_its_jobs(
    rtq: Rtq, exporter: Exporter, rtq_env: dict[str, str]
) -> None:
    """An account paused with 3 jobs and a tweet with 2: `rtq stats` names both scopes, since
    when and how many jobs each holds; the exporter counts them by kind; the overview shows
    them; after resume every figure is back to zero."""
    a, b, c = rtq.add_account(), rtq.add_account(), rtq.add_account()
    assert rtq.cli("pause", "--account", a.account_id).returncode == 0
    assert rtq.cli("pause", "--tweet", "555").returncode == 0
    jobs = [rtq.producer.enqueue("retweet", a.account_id, str(t)) for t in (1, 2, 3)]
    jobs += [rtq.producer.enqueue("retweet", b.account_id, "555"),
             rtq.producer.enqueue("retweet", c.account_id, "555")]
    wait_for(lambda: held(rtq, f"account:{a.account_id}") == 3
             and held(rtq, "tweet:555") == 2, 20, "the jobs held by both pauses")
    # rtq stats --json
    document = json.loads(rtq.cli("stats", "--json").stdout)
    pauses = document["pauses"]
    assert (pauses["scopes"], pauses["held_jobs"]) == (2, 5)
    assert pauses["by_kind"] == {"all": {"scopes": 0, "held_jobs": 0},
                                 "account": {"scopes": 1, "held_jobs": 3},
                                 "tweet": {"scopes": 1, "held_jobs": 2}}
    by_scope = {p["scope"]: p for p in pauses["paused"]}
    assert by_scope[f"account:{a.account_id}"]["held_jobs"] == 3
    assert by_scope["tweet:555"]["kind"] == "tweet"
    assert datetime.fromisoformat(by_scope["tweet:555"]["since"]).tzinfo is not None
    # rtq stats
    text = rtq.cli("stats").stdout
    assert f"2 scope(s), 5 job(s) held (account:{a.account_id} since " in text
    assert "tweet:555 since " in text and ": 2 job(s)" in text
    # rtq metrics
    samples = exporter.scrape()
    assert value(samples, "rtq_paused_jobs", kind="account") == 3
    assert value(samples, "rtq_paused_jobs", kind="tweet") == 2
    assert value(samples, "rtq_paused_jobs", kind="all") == 0
    assert value(samples, "rtq_pauses", kind="account") == 1
    assert value(samples, "rtq_pauses", kind="all") == 0
    age = value(samples, "rtq_pause_oldest_age_seconds", kind="tweet")
    assert age is not None and 0 <= age < 60
    # the console's overview
    process, url = start_console({**rtq_env, "RTQ_API_TOKENS": FULL_TOKEN})
    try:
        page = Console(url, rtq_env).session(FULL_TOKEN).get(f"{url}/", timeout=5).text
    finally:
        stop_console(process)
    assert '<section class="card alert"><h2>Paused</h2><p class="value">2</p>' in page
    assert "account: 3" in page and "tweet: 2" in page and "tweet:555 since " in page
    # resumed: nothing paused any more
    assert rtq.cli("resume", "--account", a.account_id).returncode == 0
    assert rtq.cli("resume", "--tweet", "555").returncode == 0
    rtq.wait_terminal(*jobs, timeout=30)
    samples = exporter.scrape()
    assert value(samples, "rtq_paused_jobs", kind="account") == 0
    assert value(samples, "rtq_pauses", kind="tweet") == 0
    assert json.loads(rtq.cli("stats", "--json").stdout)["pauses"]["scopes"] == 0


def test_thousands_of_paused_accounts_export_nine_pause_series(rtq: Rtq) -> None:
    """3,000 paused accounts and everything paused: the pause families have 3 series each (by
    kind), not one per account; `rtq stats` names the first few and says how many more."""
    pauses, keys = Pauses(rtq.redis, Keys()), Keys()
    # Written as Pauses.pause writes them (which refuses accounts rtq does not know: these
    # 3,000 have neither credentials nor jobs).
    pipe = rtq.redis.pipeline(transaction=False)
    for account in range(1, 3001):
        pipe.set(keys.pause(f"account:{account}"), "2026-12-04T00:00:00+00:00")
        pipe.sadd(keys.pauses, f"account:{account}")
    pipe.execute()
    pauses.pause("all")
    snapshot = StatsReader(rtq.redis, rtq.settings).snapshot()
    pause_families = [f for f in families(snapshot)
                      if f.name in ("rtq_paused_jobs", "rtq_pauses",
                                    "rtq_pause_oldest_age_seconds")]
    assert sum(len(f.samples) for f in pause_families) == 9
    counts = {s.labels["kind"]: s.value for f in pause_families if f.name == "rtq_pauses"
              for s in f.samples}
    assert counts == {"all": 1, "account": 3000, "tweet": 0}
    text = rtq.cli("stats").stdout
    assert "3001 scope(s), 0 job(s) held" in text and "2996 more (rtq pause --list)" in text
