"""How long jobs wait and take, for `rtq metrics`: read on each scrape at a bounded cost.

    rtq_job_latency_seconds{outcome}        histogram: enqueue to outcome of finished jobs
                                            (succeeded, dead, skipped, superseded,
                                            cancelled, expired), from the per-bucket counts
                                            begin.lua, settle.lua, cancel.lua and expire.lua
                                            keep
                                            (worker/domain/lua/tally.lua); raw send_task
                                            messages have no enqueue time of ours and are left
                                            out
    rtq_oldest_waiting_age_seconds{waiting} age since enqueue of the oldest job waiting: in each
                                            queue lane (fast, released, overflow: each lane is
                                            FIFO, so it is the one at its head), parked for a
                                            retry, a 429's reset, a busy pair or the breaker
                                            (retry), for its rate window (rate_window), held
                                            for its account or app (held); for scheduled jobs,
                                            how long past its due time the most overdue one is
                                            (scheduled)
    rtq_parked_overdue_seconds              how long past its due time the most overdue parked
                                            job is (0 when none is): a stalled mover

Cost per scrape: one HGETALL, one LINDEX per lane, a ZRANGE of the five oldest of each wait
index (Keys.age, kept by the scripts), one ZRANGE of the parked set, and one pipeline of at
most 28 record reads; never a SCAN, and the same whatever the number of jobs or accounts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

from worker.core import clock
from worker.core.keys import Keys
from worker.domain import lanes

# The bucket bounds of tally.lua's LATENCY_BOUNDS_MS, in seconds (a test keeps them equal).
LATENCY_BOUNDS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    120.0, 300.0, 600.0, 1800.0, 3600.0)
FINISHED = ("succeeded", "dead", "skipped", "superseded", "cancelled", "expired")
LANES = {"fast": lanes.FAST, "released": lanes.RELEASED, "overflow": lanes.OVERFLOW}
# Where parked jobs wait (Keys.age): each index's oldest few are read, the first still waiting
# counts. `scheduled` is scored by due time (a job scheduled for later is not late).
PLACES = ("retry", "scheduled", "rate_window", "held_account", "held_app", "paused")
WAITING_STATES = ("queued", "deferred")
SAMPLE = 5


@dataclass(frozen=True)
class Latency:
    # outcome -> (count per bucket, the last one above every bound; sum in seconds)
    histograms: dict[str, tuple[list[int], float]] = field(default_factory=dict)
    oldest: dict[str, float] = field(default_factory=dict)
    parked_overdue: float = 0.0


class LatencyReader:
    def __init__(self, client: redis.Redis, keys: Keys, queue_key: str) -> None:
        self._redis = client
        self._keys = keys
        self._queue_key = queue_key

    def read(self, now: float | None = None) -> Latency:
        moment = clock.now() if now is None else now
        keys = self._keys
        pipe = self._redis.pipeline(transaction=False)
        pipe.hgetall(keys.latency)
        for priority in LANES.values():
            pipe.lindex(lanes.lane(self._queue_key, priority), -1)
        for where in PLACES:
            pipe.zrange(keys.age(where), 0, SAMPLE - 1, withscores=True)
        pipe.zrange(keys.parked, 0, 0, withscores=True)
        counts, *rest = pipe.execute()
        heads, places, first_due = rest[:len(LANES)], rest[len(LANES):-1], rest[-1]
        job_ids = {name: _job_id(head) for name, head in zip(LANES, heads, strict=True)}
        sampled = {where: entries for where, entries in zip(PLACES, places, strict=True)}
        records = self._records([*filter(None, job_ids.values()),
                                 *(job_id for entries in places for job_id, _ in entries)])
        oldest = {name: _age(records.get(job_id or "", (None, None))[1], moment)
                  for name, job_id in job_ids.items()}
        for where, entries in sampled.items():
            # The first entry still waiting (an entry the scripts missed is skipped, not trusted)
            since = next((score for job_id, score in entries
                          if records.get(job_id, (None, None))[0] in WAITING_STATES), None)
            oldest[where] = max(0.0, moment - since / 1000) if since is not None else 0.0
        oldest["held"] = max(oldest.pop("held_account"), oldest.pop("held_app"))
        overdue = max(0.0, moment - first_due[0][1] / 1000) if first_due else 0.0
        return Latency(_histograms(counts), oldest, overdue)

    def _records(self, job_ids: list[str]) -> dict[str, tuple[str | None, int | None]]:
        """job id -> (state, created_at_ms) of each record."""
        if not job_ids:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hmget(self._keys.job(job_id), "state", "created_at_ms")
        return {job_id: (state, int(created) if created and created.isdigit() else None)
                for job_id, (state, created) in zip(job_ids, pipe.execute(), strict=True)}


def _job_id(message: str | None) -> str | None:
    """The job id in a queued kombu message (its `headers.id`), if it is one of ours."""
    if not message:
        return None
    try:
        document: Any = json.loads(message)
        job_id = document["headers"]["id"]
    except (ValueError, KeyError, TypeError):
        return None
    return job_id if isinstance(job_id, str) else None


def _age(created_ms: int | None, now: float) -> float:
    return max(0.0, now - created_ms / 1000) if created_ms else 0.0


def _histograms(counts: dict[str, str]) -> dict[str, tuple[list[int], float]]:
    found: dict[str, tuple[list[int], float]] = {}
    for outcome in FINISHED:
        buckets = [int(counts.get(f"{outcome}:{i}", 0)) for i in
                   range(1, len(LATENCY_BOUNDS_S) + 2)]
        found[outcome] = (buckets, int(counts.get(f"{outcome}:sum_ms", 0)) / 1000)
    return found


def latency_families(latency: Latency) -> Iterator[Metric]:
    histogram = HistogramMetricFamily(
        "rtq_job_latency_seconds", "Enqueue to outcome of finished jobs, by outcome",
        labels=["outcome"])
    for outcome, (buckets, total) in latency.histograms.items():
        cumulative, running = [], 0
        for bound, count in zip([*map(str, LATENCY_BOUNDS_S), "+Inf"], buckets, strict=True):
            running += count
            cumulative.append((bound, running))
        histogram.add_metric([outcome], cumulative, total)
    yield histogram
    oldest = GaugeMetricFamily(
        "rtq_oldest_waiting_age_seconds", "Age since enqueue of the oldest job waiting: in each "
        "queue lane (fast, released, overflow), parked for a retry (retry), for a rate window "
        "(rate_window), held (held); scheduled: how late the most overdue scheduled job is; "
        "0 when none",
        labels=["waiting"])
    for name, age in latency.oldest.items():
        oldest.add_metric([name], age)
    yield oldest
    yield GaugeMetricFamily("rtq_parked_overdue_seconds",
                            "How long past its due time the most overdue parked job is",
                            value=latency.parked_overdue)
