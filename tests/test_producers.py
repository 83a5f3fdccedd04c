"""The Python producer API: validation, atomic enqueue, bulk, and an unreachable Redis."""

from __future__ import annotations

import base64
import json
import time

import pytest

import producers
from producers import EnqueueError, InvalidJob, JobRequest, Producer
from tests.support import Rtq
from worker.embedded import free_port
from worker.lanes import all_lanes, queue_depth
from worker.settings import Settings


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
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
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
    assert queue_depth(rtq.redis, "rtq-inspect") == 2500
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
