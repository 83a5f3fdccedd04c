"""How many series `rtq metrics` exports, and what a scrape costs, against a real Redis holding
10,000 accounts added the way `rtq accounts add` adds them (`AccountStore.add`): per-account
series only up to RTQ_METRICS_ACCOUNT_LIMIT (`auto`), aggregates always, and no SCAN."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.support import wait_for
from worker.core import clock
from worker.core.keys import Keys
from worker.core.settings import MetricsSettings, Settings
from worker.domain.accounts import AccountStore, fernet_for
from worker.domain.parking import Mover, MoverThread
from worker.embedded.servers import WorkerProcess
from worker.ops.metrics import registry
from worker.ops.stats import StatsReader
from worker.x_api.credentials import Credentials

ACCOUNTS = 10_000
LARGE_PREFIX = "rtq-10k"
PER_ACCOUNT = {"rtq_budget_remaining", "rtq_budget_limit", "rtq_rate_window_waiting_jobs"}


def scrape(client: redis.Redis, settings: Settings, metrics: MetricsSettings) -> list[Sample]:
    text = generate_latest(registry(StatsReader(client, settings), metrics)).decode()
    return [sample for family in text_string_to_metric_families(text)
            for sample in family.samples]


def add_accounts(client: redis.Redis, settings: Settings, count: int, first: int = 1) -> None:
    """`count` accounts, each added as `rtq accounts add` adds one."""
    store = AccountStore(client, Keys(settings.key_prefix), fernet_for(settings.secret_keys))
    for number in range(first, first + count):
        store.add(Credentials(f"{number}-token", f"secret-{number}", "ck", "cs"))


def spend_budgets(client: redis.Redis, settings: Settings, ids: range) -> None:
    """Every account has called both endpoints (the budget hashes settle.lua writes), has no
    retweet left and one job waiting for its retweet window."""
    keys = Keys(settings.key_prefix)
    reset = clock.ms(clock.now()) + 900_000
    pipe = client.pipeline(transaction=False)
    for number in ids:
        account = str(number)
        pipe.hset(keys.budget(account, "retweet"),
                  mapping={"limit": 50, "remaining": 0, "reset": reset})
        pipe.hset(keys.budget(account, "undo"),
                  mapping={"limit": 50, "remaining": 49, "reset": reset})
        pipe.zadd(keys.waiting(account, "retweet"), {f"job-{account}": 1})
        pipe.zadd(keys.groups, {f"{account}:retweet": reset})
    pipe.execute()


def value(samples: list[Sample], name: str, **labels: str) -> float:
    (found,) = [s.value for s in samples if s.name == name and s.labels == labels]
    return found


@pytest.fixture(scope="module")
def large(redis_client: redis.Redis, settings: Settings) -> Iterator[Settings]:
    """10,000 accounts under a key prefix of their own (the per-test clean-up wipes `rtq:*`),
    filled once for the module."""
    own = Settings.from_env({"RTQ_KEY_PREFIX": LARGE_PREFIX,
                             "RTQ_SECRET_KEY": settings.secret_keys[0]})
    add_accounts(redis_client, own, ACCOUNTS)
    spend_budgets(redis_client, own, range(1, ACCOUNTS + 1))
    yield own
    keys = list(redis_client.scan_iter(f"{LARGE_PREFIX}:*", count=5000))
    for start in range(0, len(keys), 5000):
        redis_client.delete(*keys[start:start + 5000])


def test_a_10000_account_deployment_exports_a_fixed_number_of_series_by_default(
    redis_client: redis.Redis, large: Settings
) -> None:
    """With `auto` (limit 100) no series is per account, and the aggregates count every
    account: 10,000 with no retweet left, 10,000 waiting for their window."""
    samples = scrape(redis_client, large, MetricsSettings())
    assert not [s for s in samples if "account" in s.labels]
    assert not {s.name for s in samples} & PER_ACCOUNT
    assert value(samples, "rtq_metrics_per_account") == 0
    assert value(samples, "rtq_accounts", state="active") == ACCOUNTS
    assert value(samples, "rtq_budget_exhausted_accounts", endpoint="retweet") == ACCOUNTS
    assert value(samples, "rtq_budget_exhausted_accounts", endpoint="undo") == 0
    assert value(samples, "rtq_rate_window_waiting_accounts", endpoint="retweet") == ACCOUNTS
    assert value(samples, "rtq_jobs_parked", reason="rate_window") == ACCOUNTS
    print(f"\n{ACCOUNTS} accounts, RTQ_METRICS_PER_ACCOUNT=auto: {len(samples)} series")
    # 188 with the pauses (9) and the `cancelled` and `expired` outcomes (22 series each: its
    # latency histogram and its counter); what matters is that accounts add none.
    assert len(samples) < 200


def test_the_default_series_count_does_not_grow_with_the_accounts(
    redis_client: redis.Redis, large: Settings, settings: Settings
) -> None:
    """Just above the limit (101 accounts) the scrape has exactly the series it has with
    10,000: only values change."""
    at_10000 = scrape(redis_client, large, MetricsSettings())
    add_accounts(redis_client, settings, 101)
    spend_budgets(redis_client, settings, range(1, 102))
    at_101 = scrape(redis_client, settings, MetricsSettings())
    assert value(at_101, "rtq_accounts", state="active") == 101
    assert sorted((s.name, sorted(s.labels.items())) for s in at_101) == \
        sorted((s.name, sorted(s.labels.items())) for s in at_10000)


def test_per_account_series_when_turned_on_cost_five_series_per_account(
    redis_client: redis.Redis, large: Settings
) -> None:
    """RTQ_METRICS_PER_ACCOUNT=on at 10,000 accounts that called both endpoints and wait for
    one: remaining and limit per endpoint, plus one waiting group, per account."""
    default = scrape(redis_client, large, MetricsSettings())
    samples = scrape(redis_client, large, MetricsSettings(per_account="on"))
    assert value(samples, "rtq_metrics_per_account") == 1
    assert value(samples, "rtq_budget_remaining", account="77", endpoint="retweet") == 0
    assert value(samples, "rtq_budget_limit", account="77", endpoint="undo") == 50
    assert value(samples, "rtq_rate_window_waiting_jobs", account="77", endpoint="retweet") == 1
    per_account = [s for s in samples if "account" in s.labels]
    assert len(per_account) == 5 * ACCOUNTS
    assert len(samples) == len(default) + 5 * ACCOUNTS
    print(f"\n{ACCOUNTS} accounts, RTQ_METRICS_PER_ACCOUNT=on: {len(samples)} series")


def test_off_drops_per_account_series_even_for_one_account(redis_client: redis.Redis,
                                                          settings: Settings) -> None:
    """`off` exports no account label for a deployment of one; `auto` does."""
    add_accounts(redis_client, settings, 1)
    spend_budgets(redis_client, settings, range(1, 2))
    off = scrape(redis_client, settings, MetricsSettings(per_account="off"))
    auto = scrape(redis_client, settings, MetricsSettings())
    assert not [s for s in off if "account" in s.labels]
    assert value(auto, "rtq_budget_remaining", account="1", endpoint="retweet") == 0
    assert value(off, "rtq_budget_exhausted_accounts", endpoint="retweet") == 1


def commands(client: redis.Redis) -> dict[str, int]:
    """Calls per command since Redis started (INFO commandstats)."""
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(entry["calls"]) for name, entry in stats.items()}


def scrape_counting_commands(client: redis.Redis, settings: Settings
                             ) -> tuple[list[Sample], dict[str, int]]:
    """One scrape, and the commands it sent Redis (by name)."""
    before = commands(client)
    samples = scrape(client, settings, MetricsSettings())
    after = commands(client)
    used = {name: after[name] - before.get(name, 0) for name in after
            if after[name] != before.get(name, 0)}
    used.pop("info", None)  # ours
    return samples, used


def test_a_scrape_of_10000_accounts_never_scans_and_sends_a_few_commands_per_account(
    redis_client: redis.Redis, large: Settings
) -> None:
    """No SCAN or KEYS, whatever the keyspace holds; at most 7 commands per account (its meta
    hash, held list, three budgets and its waiting groups), all pipelined."""
    started = time.monotonic()
    samples, used = scrape_counting_commands(redis_client, large)
    elapsed = time.monotonic() - started
    assert value(samples, "rtq_accounts", state="active") == ACCOUNTS
    assert not {"scan", "keys"} & set(used), used
    assert sum(used.values()) <= 7 * ACCOUNTS + 50, used
    print(f"\none scrape of {ACCOUNTS} accounts: {sum(used.values())} commands in "
          f"{elapsed:.2f} s: {used}")


def test_workers_are_found_through_the_heartbeat_index_without_a_scan(
    redis_client: redis.Redis, settings: Settings, worker: WorkerProcess
) -> None:
    """A live worker is counted (its heartbeat listed in the `workers` index) with no SCAN."""
    keys = Keys(settings.key_prefix)
    wait_for(lambda: redis_client.zcard(keys.workers) == 1, 10,
             "the worker's next heartbeat (the clean-up deleted it)")
    samples, used = scrape_counting_commands(redis_client, settings)
    assert value(samples, "rtq_workers_alive") == 1
    assert not {"scan", "keys"} & set(used), used


def test_a_worker_enters_the_heartbeat_index_when_it_beats_and_leaves_it_when_it_stops(
    redis_client: redis.Redis,
) -> None:
    """The index the readers use follows the heartbeat key: listed while the worker beats,
    both gone once it stops (a crashed worker's entry outlives its key, and readers skip it)."""
    keys = Keys("rtq-heartbeat")
    mover = Mover(redis_client, keys, "rtq-heartbeat-queue", (50, 900))
    thread = MoverThread(mover, interval=0.01, heartbeat=(redis_client, keys, "w1@host"))
    thread.start()
    try:
        wait_for(lambda: redis_client.zscore(keys.workers, "w1@host") is not None, 10,
                 "the first heartbeat")
        assert redis_client.ttl(keys.worker("w1@host")) > 0
        redis_client.zadd(keys.workers, {"crashed@host": clock.ms(clock.now())})
        reader = StatsReader(redis_client, Settings.from_env({"RTQ_KEY_PREFIX": "rtq-heartbeat"}))
        assert set(reader.snapshot().workers) == {"w1@host"}
    finally:
        thread.stop()
        thread.join(timeout=10)
    assert redis_client.zscore(keys.workers, "w1@host") is None
    assert not redis_client.exists(keys.worker("w1@host"))
    assert redis_client.zrange(keys.workers, 0, -1) == ["crashed@host"]
    redis_client.delete(keys.workers)
