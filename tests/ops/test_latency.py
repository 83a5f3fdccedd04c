"""How long jobs wait and take: the enqueue-to-outcome histogram and per-minute outcome counts
that begin.lua and settle.lua keep, and the oldest waiting job per lane, scraped from a real
`rtq metrics` after real jobs ran on a real worker."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from importlib.resources import files

import pytest

from producers import Producer
from tests.ops.test_metrics import Exporter, value
from tests.support import Rtq, wait_for
from worker.core.keys import Keys
from worker.core.settings import Settings
from worker.domain.lanes import all_lanes
from worker.embedded.servers import WorkerProcess
from worker.ops.latency import LATENCY_BOUNDS_S


def test_the_histogram_buckets_are_the_ones_the_scripts_count() -> None:
    """tally.lua's bounds (ms) and ops/latency.py's (s) are the same list."""
    source = files("worker.domain").joinpath("lua", "tally.lua").read_text()
    match = re.search(r"LATENCY_BOUNDS_MS = \{([^}]*)\}", source)
    assert match is not None
    bounds_ms = [int(n) for n in re.findall(r"\d+", match.group(1))]
    assert [b / 1000 for b in bounds_ms] == list(LATENCY_BOUNDS_S)


def test_finished_jobs_fill_the_latency_histogram_and_this_minutes_counts(
        rtq: Rtq, worker: WorkerProcess) -> None:
    """5 jobs succeed, 1 is skipped (already retweeted), 1 is not found: each finished job is
    one observation under its outcome, and this minute's hash counts every outcome."""
    exporter = Exporter(rtq.env)
    try:
        account = rtq.add_account()
        a = account.account_id
        rtq.admin.configure(missing_tweets=["9"])
        ids = [rtq.producer.enqueue("retweet", a, str(t)) for t in range(1, 6)]
        rtq.wait_terminal(*ids)
        ids.append(rtq.producer.enqueue("retweet", a, "1"))  # known retweeted: skipped
        ids.append(rtq.producer.enqueue("retweet", a, "9"))  # not found: dead
        rtq.wait_terminal(*ids)
        samples = exporter.scrape()
        count = "rtq_job_latency_seconds_count"
        assert value(samples, count, outcome="succeeded") == 5
        assert value(samples, count, outcome="skipped") == 1
        assert value(samples, count, outcome="dead") == 1
        assert value(samples, count, outcome="superseded") == 0
        # Every job here took well under 10 s: all in the buckets up to 10 s, none above
        assert value(samples, "rtq_job_latency_seconds_bucket", outcome="succeeded",
                     le="10.0") == 5
        assert value(samples, "rtq_job_latency_seconds_bucket", outcome="succeeded",
                     le="0.005") is not None
        total = value(samples, "rtq_job_latency_seconds_sum", outcome="succeeded")
        assert total is not None and 0 <= total < 50
        minute = Keys().minute_outcomes(int(time.time() // 60))
        previous = Keys().minute_outcomes(int(time.time() // 60) - 1)
        counts = {k: int(rtq.redis.hget(minute, k) or 0) + int(rtq.redis.hget(previous, k) or 0)
                  for k in ("succeeded", "skipped", "dead")}
        assert counts == {"succeeded": 5, "skipped": 1, "dead": 1}
        assert 0 < rtq.redis.ttl(minute) <= 7200
    finally:
        exporter.close()


@pytest.fixture
def held_queue(rtq: Rtq) -> Iterator[Producer]:
    """A producer for a queue no worker consumes: its jobs stay in their lanes."""
    settings = Settings.from_env({**rtq.env, "RTQ_QUEUE": "rtq-latency-held"})
    yield Producer(rtq.redis, settings)
    rtq.redis.delete(*all_lanes(settings.queue_key))


def test_the_oldest_waiting_job_of_each_lane_has_an_age(rtq: Rtq, held_queue: Producer) -> None:
    """Jobs waiting in a queue nobody consumes: the fast lane's oldest job has an age that
    grows; the empty lanes say 0."""
    env = {**rtq.env, "RTQ_QUEUE": "rtq-latency-held"}
    account = rtq.add_account()
    held_queue.enqueue("retweet", account.account_id, "1")
    held_queue.enqueue("retweet", account.account_id, "2")
    exporter = Exporter(env)
    try:
        first = wait_for(lambda: (s := exporter.scrape()) and (value(
            s, "rtq_oldest_waiting_age_seconds", waiting="fast") or 0) > 0 and s, 10,
            "the fast lane's oldest job to have an age")
        assert value(first, "rtq_oldest_waiting_age_seconds", waiting="overflow") == 0
        assert value(first, "rtq_oldest_waiting_age_seconds", waiting="held") == 0
        age = value(first, "rtq_oldest_waiting_age_seconds", waiting="fast")
        later = wait_for(lambda: (s := exporter.scrape()) and (value(
            s, "rtq_oldest_waiting_age_seconds", waiting="fast") or 0) > (age or 0) and s, 10,
            "the age to grow")
        assert value(later, "rtq_parked_overdue_seconds") == 0
    finally:
        exporter.close()


def test_an_overdue_parked_job_shows_how_late_the_mover_is(rtq: Rtq) -> None:
    """A parked job 30 s past its due time (under a key prefix no worker's mover serves)."""
    env = {**rtq.env, "RTQ_KEY_PREFIX": "rtqlatency"}
    parked = Keys("rtqlatency").parked
    rtq.redis.zadd(parked, {"overdue-job": (time.time() - 30) * 1000})
    exporter = Exporter(env)
    try:
        overdue = value(exporter.scrape(), "rtq_parked_overdue_seconds")
        assert overdue is not None and 29 <= overdue < 60
        rtq.redis.delete(parked)
        assert value(exporter.scrape(), "rtq_parked_overdue_seconds") == 0
    finally:
        exporter.close()
        rtq.redis.delete(parked)


def test_jobs_waiting_for_a_rate_window_or_a_held_account_have_an_age(
        rtq: Rtq, worker: WorkerProcess) -> None:
    """X allows 1 call per window and an account has 3 jobs: two wait (parked until X's reset,
    or for the window); a locked account's job is held; each place reports its oldest job's
    age, and a place nobody waits in says 0."""
    exporter = Exporter(rtq.env)
    try:
        limited, locked = rtq.add_account(), rtq.add_account()
        rtq.admin.configure(rate_limit=1, rate_window=900)  # X says so: 1 call per window
        rtq.admin.add_condition("account_locked", user_id=locked.account_id)
        for tweet in ("1", "2", "3"):
            rtq.producer.enqueue("retweet", limited.account_id, tweet)
        rtq.producer.enqueue("retweet", locked.account_id, "4")
        keys = Keys()
        # (a job that calls X after the first learns of the window from X's 429 and is parked
        # until the reset; one that begins after that waits for the window: which, depends on
        # which worker process takes which job)
        wait_for(lambda: rtq.redis.zcard(keys.age("rate_window"))
                 + rtq.redis.zcard(keys.age("retry")) == 2
                 and rtq.redis.zcard(keys.age("held_account")) == 1, 20,
                 "two jobs waiting for X's window and one held")
        waiting = {w: rtq.redis.zcard(keys.age(w)) for w in ("retry", "rate_window")}
        samples = wait_for(lambda: (s := exporter.scrape()) and all(
            (value(s, "rtq_oldest_waiting_age_seconds", waiting=w) or 0) > 0
            for w in ("held", *(w for w, n in waiting.items() if n))) and s, 10,
            "the ages of the places jobs wait in to be above 0")
        for where, count in waiting.items():
            if not count:
                assert value(samples, "rtq_oldest_waiting_age_seconds", waiting=where) == 0
        assert value(samples, "rtq_oldest_waiting_age_seconds", waiting="scheduled") == 0
    finally:
        exporter.close()


def test_a_wait_index_entry_the_scripts_missed_is_not_trusted(rtq: Rtq) -> None:
    """The oldest entry of a wait index whose job has finished is skipped: the age is the next
    job still waiting (under a key prefix no worker serves)."""
    env = {**rtq.env, "RTQ_KEY_PREFIX": "rtqages"}
    keys = Keys("rtqages")
    now_ms = int(time.time() * 1000)
    rtq.redis.zadd(keys.age("retry"), {"gone": now_ms - 600_000, "waiting": now_ms - 60_000})
    rtq.redis.hset(keys.job("gone"), "state", "succeeded")
    rtq.redis.hset(keys.job("waiting"), "state", "deferred")
    rtq.redis.zadd(keys.age("scheduled"), {"late": now_ms - 120_000, "later": now_ms + 9e6})
    rtq.redis.hset(keys.job("late"), "state", "queued")
    exporter = Exporter(env)
    try:
        samples = exporter.scrape()
        retry = value(samples, "rtq_oldest_waiting_age_seconds", waiting="retry")
        scheduled = value(samples, "rtq_oldest_waiting_age_seconds", waiting="scheduled")
        assert retry is not None and 59 <= retry < 300
        assert scheduled is not None and 119 <= scheduled < 300
    finally:
        exporter.close()
        for key in rtq.redis.scan_iter("rtqages:*"):
            rtq.redis.delete(key)
