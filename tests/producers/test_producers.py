"""The Python producer API: validation, atomic enqueue, bulk, and an unreachable Redis."""

from __future__ import annotations

import json
import time

import pytest

import producers
from producers import EnqueueError, InvalidJob, JobRequest, Producer
from tests.support import Rtq
from worker.core import clock
from worker.core.settings import Settings
from worker.domain.lanes import FAST_LANE_SHARE, OVERFLOW, all_lanes, lane, queue_depth
from worker.domain.messages import body_text
from worker.embedded.servers import free_port


@pytest.fixture
def inspect_queue(rtq: Rtq) -> Producer:
    """A producer on a queue nobody consumes, so messages can be read back."""
    return Producer(rtq.redis, Settings.from_env({**rtq.env, "RTQ_QUEUE": "rtq-inspect"}))


def test_a_returned_job_id_is_in_redis_with_its_status_and_message(
    rtq: Rtq, inspect_queue: Producer
) -> None:
    """By the time enqueue returns, the record and the message are both in Redis."""
    account = rtq.add_account()
    job_id = inspect_queue.enqueue("retweet", account.account_id, "5")
    status = rtq.status(job_id)
    assert (status.state, status.action, status.tweet_id) == ("queued", "retweet", "5")
    (raw,) = rtq.redis.lrange("rtq-inspect", 0, -1)
    message = json.loads(raw)
    args, kwargs, _ = json.loads(body_text(message))
    assert message["headers"]["id"] == job_id and message["headers"]["task"] == "rtq.retweet"
    assert args == [] and kwargs == {"account_id": account.account_id, "tweet_id": "5"}
    rtq.redis.delete("rtq-inspect")


@pytest.mark.parametrize(
    ("account_id", "tweet_id", "field"),
    [
        ("abc", "1", "account_id"),
        ("1" * 20, "1", "account_id"),
        (-1, "1", "account_id"),
        ("1", "https://example.com/a/status/1", "tweet_id"),
        ("1", "", "tweet_id"),
        ("1", 1.5, "tweet_id"),
    ],
)
def test_bad_ids_raise_invalid_job_naming_the_field(rtq: Rtq, account_id: object,
                                                    tweet_id: object, field: str) -> None:
    """InvalidJob is a ValueError whose message starts with the field."""
    with pytest.raises(InvalidJob) as caught:
        rtq.producer.enqueue("retweet", account_id, tweet_id)
    assert isinstance(caught.value, ValueError)
    assert caught.value.field == field and str(caught.value).startswith(f"{field}: ")


def test_an_unknown_account_raises_invalid_job(rtq: Rtq, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    """enqueue_retweet for an account rtq has no credentials for."""
    monkeypatch.setattr(producers, "_default", rtq.producer)
    with pytest.raises(InvalidJob, match=r"^account_id: unknown account 424242"):
        producers.enqueue_retweet("424242", "1")
    assert queue_depth(rtq.redis, rtq.settings.queue_key) == 0


def test_bulk_enqueue_is_all_or_nothing_on_invalid_input(rtq: Rtq, monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """enqueue_many validates every job first; one bad job means none is enqueued."""
    account = rtq.add_account()
    monkeypatch.setattr(producers, "_default", rtq.producer)
    good = {"action": "retweet", "account_id": account.account_id, "tweet_id": "1"}
    with pytest.raises(InvalidJob):
        producers.enqueue_many([good, {**good, "account_id": "777"}])
    with pytest.raises(InvalidJob):
        producers.enqueue_many([good, {**good, "tweet_id": "x"}])
    assert not list(rtq.redis.scan_iter("rtq:job:*"))


def test_bulk_enqueue_returns_ids_in_order(rtq: Rtq, inspect_queue: Producer) -> None:
    """Thousands of jobs in batches, ids in input order, intents in that order."""
    account = rtq.add_account()
    requests = [JobRequest.create("retweet", account.account_id, str(i)) for i in range(2500)]
    ids = inspect_queue.enqueue_many(requests)
    assert len(ids) == len(set(ids)) == 2500
    statuses = rtq.jobs.get_many([ids[0], ids[-1]])
    assert [s.tweet_id for s in statuses if s] == ["0", "2499"]
    # One account: its share in the fast lane, the rest in the overflow lane, each FIFO in
    # input order across batches (workers BRPOP the oldest first).
    fast, overflow = "rtq-inspect", lane("rtq-inspect", OVERFLOW)
    assert rtq.redis.llen(fast) == FAST_LANE_SHARE
    assert rtq.redis.llen(overflow) == 2500 - FAST_LANE_SHARE
    queued = rtq.redis.lrange(fast, 0, -1)[::-1] + rtq.redis.lrange(overflow, 0, -1)[::-1]
    in_order = [json.loads(m)["headers"]["id"] for m in queued]
    assert in_order == ids
    rtq.redis.delete(*all_lanes("rtq-inspect"))


def test_a_job_redis_refuses_is_reported_and_writes_nothing(
    rtq: Rtq, inspect_queue: Producer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An account removed between the up-front check and the enqueue script: that job is
    refused with the field named, its batch's other jobs are enqueued whole, later batches are
    not sent."""
    account = rtq.add_account()
    monkeypatch.setattr(inspect_queue, "_check_accounts", lambda jobs: None)
    requests = [JobRequest.create("retweet", account.account_id, str(i)) for i in range(1500)]
    requests[3] = JobRequest.create("retweet", "424242", "3")
    with pytest.raises(InvalidJob, match=r"^account_id: unknown account 424242") as refused:
        inspect_queue.enqueue_many(requests)
    messages = [json.loads(m) for name in all_lanes("rtq-inspect")
                for m in rtq.redis.lrange(name, 0, -1)]
    assert len(messages) == 999  # the first batch (1,000) but the refused job
    assert not rtq.redis.exists("rtq:intent:424242:3")
    records = {rtq.redis.hget(f"rtq:job:{m['headers']['id']}", "tweet_id") for m in messages}
    assert records == {str(i) for i in range(1000)} - {"3"}
    # The error names the jobs that went in, in input order.
    assert [rtq.redis.hget(f"rtq:job:{job_id}", "tweet_id") for job_id in
            refused.value.enqueued] == [str(i) for i in range(1000) if i != 3]
    rtq.redis.delete(*all_lanes("rtq-inspect"))


def test_a_later_batch_redis_fails_reports_the_jobs_enqueued_before_it(
    rtq: Rtq, inspect_queue: Producer
) -> None:
    """Redis fails the second batch's script (here a key of the wrong type): EnqueueError
    carries the first batch's ids, in order, so that they are not sent again."""
    account = rtq.add_account()
    requests = [JobRequest.create("retweet", account.account_id, str(i)) for i in range(1500)]
    rtq.redis.set(f"rtq:intent:{account.account_id}:1200", "not a hash")
    with pytest.raises(EnqueueError, match="WRONGTYPE") as failed:
        inspect_queue.enqueue_many(requests)
    assert [rtq.redis.hget(f"rtq:job:{job_id}", "tweet_id") for job_id in
            failed.value.enqueued] == [str(i) for i in range(1000)]
    rtq.redis.delete(*all_lanes("rtq-inspect"))


def test_enqueue_loads_the_script_again_after_redis_forgot_it(
    rtq: Rtq, inspect_queue: Producer
) -> None:
    """A restarted (or SCRIPT FLUSHed) Redis answers NOSCRIPT: the producer loads the script
    and the batch goes through once."""
    account = rtq.add_account()
    inspect_queue.enqueue("retweet", account.account_id, "1")
    rtq.redis.script_flush()
    requests = [JobRequest.create("retweet", account.account_id, str(i)) for i in range(1200)]
    ids = inspect_queue.enqueue_many(requests)
    assert queue_depth(rtq.redis, "rtq-inspect") == 1201
    assert [s.state for s in rtq.jobs.get_many(ids[:1] + ids[-1:]) if s] == ["queued"] * 2
    rtq.redis.delete(*all_lanes("rtq-inspect"))


def test_an_unreachable_redis_raises_enqueue_error_quickly(rtq: Rtq) -> None:
    """No silent drop, no hang: EnqueueError within the connect timeout."""
    settings = Settings.from_env({**rtq.env,
                                  "RTQ_REDIS_URL": f"redis://:pw@127.0.0.1:{free_port()}/0"})
    producer = Producer.from_settings(settings)
    started = time.monotonic()
    with pytest.raises(EnqueueError) as caught:
        producer.enqueue("retweet", "1", "2")
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert ":pw@" not in message and ":***@" in message
    assert "unreachable" in message or "did not accept" in message


def test_a_queued_jobs_status_shows_every_field_though_the_record_is_lean(
    rtq: Rtq, inspect_queue: Producer
) -> None:
    """While queued, the record leaves out what equals its readers' defaults (no attempts yet,
    updated when created); `rtq status --json` shows the same fields and values as ever."""
    account = rtq.add_account()
    job_id = inspect_queue.enqueue("retweet", account.account_id, "77")
    record = rtq.redis.hgetall(f"rtq:job:{job_id}")
    assert not {"attempts", "charged", "updated_at", "created_at"} & set(record)
    assert record["created_at_ms"].isdigit()
    shown = json.loads(rtq.cli("status", job_id, "--json").stdout)
    assert {k: shown[k] for k in ("job_id", "action", "account_id", "tweet_id", "state",
                                  "attempts", "reason")} == {
        "job_id": job_id, "action": "retweet", "account_id": account.account_id,
        "tweet_id": "77", "state": "queued", "attempts": 0, "reason": None}
    assert shown["updated_at"] == shown["created_at"] == clock.iso_ms(int(record["created_at_ms"]))
    rtq.redis.delete("rtq-inspect")


def test_a_boost_split_across_two_batches_keeps_both_of_its_jobs(
    rtq: Rtq, inspect_queue: Producer
) -> None:
    """A retweet and its undo-after that fall in two script calls (the 1,000th and 1,001st
    jobs) do not cancel each other; a later intent for a pair in the same call still cancels
    that pair's scheduled jobs (latest intent wins)."""
    account = rtq.add_account().account_id
    at = clock.iso(clock.now() + 3600)
    fillers = [JobRequest.create("retweet", account, str(i)) for i in range(999)]
    split = JobRequest.create("retweet", account, "5000", at).with_undo_after("1h")
    cancelled = JobRequest.create("retweet", account, "6000", at).with_undo_after("1h")
    later = JobRequest.create("undo", account, "6000")
    try:
        ids = inspect_queue.enqueue_many([*fillers, *split, *cancelled, later])
        states = [s.state for s in rtq.jobs.get_many(ids[999:]) if s]
        assert states == ["deferred", "deferred", "superseded", "superseded", "queued"]
    finally:
        rtq.redis.delete(*all_lanes("rtq-inspect"))
