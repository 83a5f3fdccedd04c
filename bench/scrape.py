"""Issue 16: the cost of one `rtq metrics` scrape with 100,000 queued jobs, 100,000 parked jobs
and 10,000 accounts.

The state is written the way rtq writes it (AccountStore.add for the accounts, the producer's
batched enqueue for the jobs: the queued ones on the queue's lanes, the parked ones scheduled
an hour ahead, so they sit in the parked set and its wait index); no worker runs. Then the
collector is scraped in this process as `rtq metrics` does on each request: wall time and Redis
commands per scrape, with the per-account series off (the default above
RTQ_METRICS_ACCOUNT_LIMIT) and on.
"""

from __future__ import annotations

import secrets
import statistics
import time

from prometheus_client import generate_latest

from bench.context import Context
from producers import JobRequest, Producer
from worker.core.keys import Keys
from worker.core.settings import MetricsSettings
from worker.domain.accounts import AccountStore, fernet_for
from worker.ops.metrics import registry
from worker.ops.stats import StatsReader
from worker.x_api.credentials import Credentials

NAME = "scrape"


def commands(client: object) -> int:
    stats = client.info("stats")  # type: ignore[attr-defined]
    return int(stats["total_commands_processed"])


def run(ctx: Context) -> None:
    stack = ctx.stack
    client = stack.client
    stack.reset()
    settings = stack.settings
    assert settings is not None
    accounts = ctx.scale(10_000, 2_000)
    queued = ctx.scale(100_000, 20_000)
    parked = ctx.scale(100_000, 20_000)
    store = AccountStore(client, Keys(settings.key_prefix), fernet_for(settings.secret_keys))
    ids = []
    for _ in range(accounts):
        user = str(10**12 + secrets.randbelow(10**12))
        store.add(Credentials(f"{user}-{secrets.token_hex(8)}", secrets.token_hex(16)))
        ids.append(user)
    producer = Producer(client, settings)
    producer.enqueue_many([JobRequest("retweet", ids[i % len(ids)], str(10**15 + i))
                           for i in range(queued)])
    later = time.time() + 3600
    producer.enqueue_many([JobRequest("retweet", ids[i % len(ids)], str(2 * 10**15 + i),
                                      at=later) for i in range(parked)])
    parked_now = client.zcard(Keys(settings.key_prefix).parked)
    for label, per_account in (("default (auto: per-account series off)", "auto"),
                               ("per-account series on", "on")):
        reader = StatsReader(client, settings)
        metrics = registry(reader, MetricsSettings(per_account=per_account))
        generate_latest(metrics)  # warm: the dead-letter reasons cache, connections
        times, sent, sizes = [], [], []
        for _ in range(ctx.scale(5, 2)):
            before = commands(client)
            started = time.perf_counter()
            text = generate_latest(metrics)
            times.append(time.perf_counter() - started)
            sent.append(commands(client) - before - 1)  # the INFO itself
            sizes.append(len(text.splitlines()))
        ctx.figure(NAME, f"one scrape, {label}: wall time", statistics.median(times) * 1000,
                   "ms", note=f"{accounts:,} accounts, {queued:,} queued, {parked_now:,} "
                   f"parked; {statistics.median(sent):,.0f} Redis commands; "
                   f"{sizes[-1]:,} lines")

