"""Deduplication by the known retweeted state: no call that cannot change anything."""

from __future__ import annotations

import pytest

from tests.support import Rtq

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
    """retweet then undo, enqueued back to back: the undo wins, the retweet never calls X
    (or, if it already ran, the undo follows it)."""
    account = rtq.add_account()
    first = rtq.producer.enqueue("retweet", account.account_id, "200")
    last = rtq.producer.enqueue("undo", account.account_id, "200")
    older, newer = rtq.wait_terminal(first, last)
    assert rtq.admin.state(account.account_id).get(account.account_id, []) == []
    assert newer.state in ("succeeded", "skipped")
    if older.state == "superseded":
        assert older.reason == f"superseded by job {last}"
        assert older.attempts == 0


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
