"""Deduplication by the known retweeted state: no call that cannot change anything."""

from __future__ import annotations

import pytest

from producers import Producer
from tests.support import Rtq, wait_for
from worker.core.settings import Settings
from worker.domain.messages import build_message

pytestmark = pytest.mark.usefixtures("worker")


def test_the_same_retweet_enqueued_many_times_makes_one_call(rtq: Rtq) -> None:
    """Twenty identical retweets, enqueued at once and then again: exactly one API call."""
    account = rtq.add_account()
    burst = [rtq.producer.enqueue("retweet", account.account_id, "100") for _ in range(20)]
    rtq.wait_terminal(*burst)
    again = [rtq.producer.enqueue("retweet", account.account_id, "100") for _ in range(5)]
    statuses = rtq.wait_terminal(*again)
    assert len(rtq.x_calls(account.account_id)) == 1
    # Identical intents back to back: the newest is skipped, older ones superseded; none calls X.
    assert statuses[-1].state == "skipped" and statuses[-1].reason == "already retweeted"
    assert {s.state for s in statuses} <= {"skipped", "superseded"}
    assert all(s.attempts == 0 for s in statuses)


def test_an_older_intent_is_superseded_by_a_newer_one(rtq: Rtq) -> None:
    """retweet then undo, both waiting in the queue: the undo wins, the retweet never calls X."""
    account = rtq.add_account()
    # Given both jobs enqueued while held back from the worker, then released together
    held = Producer(rtq.redis, Settings.from_env({**rtq.env, "RTQ_QUEUE": "rtq-held"}))
    first = held.enqueue("retweet", account.account_id, "200")
    last = held.enqueue("undo", account.account_id, "200")
    pipe = rtq.redis.pipeline(transaction=True)
    pipe.rpoplpush("rtq-held", rtq.settings.queue_key)
    pipe.rpoplpush("rtq-held", rtq.settings.queue_key)
    pipe.execute()
    older, newer = rtq.wait_terminal(first, last)
    assert (older.state, older.reason, older.attempts) == (
        "superseded", f"superseded by job {last}", 0)
    assert newer.state == "succeeded"
    assert [c["action"] for c in rtq.x_calls(account.account_id)] == ["undo"]


def test_undo_of_a_tweet_known_not_retweeted_is_skipped(rtq: Rtq) -> None:
    """After an undo succeeded, another undo makes no call."""
    account = rtq.add_account()
    rtq.wait_terminal(rtq.producer.enqueue("undo", account.account_id, "300"))
    (second,) = rtq.wait_terminal(rtq.producer.enqueue("undo", account.account_id, "300"))
    assert second.state == "skipped" and second.reason == "not retweeted already"
    assert len(rtq.x_calls(account.account_id)) == 1


def test_state_unknown_to_rtq_is_learned_from_x(rtq: Rtq) -> None:
    """A retweet made outside rtq: rtq's call learns the state, the next job is skipped."""
    account = rtq.add_account()
    rtq.admin.set_state(account.account_id, "400", True)
    (first,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", account.account_id, "400"))
    (second,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", account.account_id, "400"))
    assert first.state == "succeeded" and second.state == "skipped"
    calls = rtq.x_calls(account.account_id)
    assert len(calls) == 1 and calls[0]["changed"] is False


def test_two_copies_of_one_running_job_make_one_call(rtq: Rtq) -> None:
    """A duplicate delivery of a job in flight waits for the first copy instead of calling X."""
    account = rtq.add_account()
    rtq.admin.script([{"user_id": account.account_id,
                       "responses": [{"status": 200, "hang_seconds": 1}]}])
    job_id = rtq.producer.enqueue("retweet", account.account_id, "500")
    rtq.wait_state(job_id, "running")
    # The same message again (as a broker redelivery or a double publish would bring it)
    rtq.redis.lpush(rtq.settings.queue_key,
                    build_message("retweet", job_id, account.account_id, "500"))
    (status,) = rtq.wait_terminal(job_id)
    wait_for(lambda: rtq.redis.llen(rtq.settings.queue_key) == 0, 10, "the copy to be taken")
    wait_for(lambda: not rtq.redis.zcard("rtq:parked"), 10, "the copy to finish")
    assert status.state == "succeeded"
    assert len(rtq.x_calls(account.account_id)) == 1
