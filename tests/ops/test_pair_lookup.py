"""What rtq knows of one (account, tweet) pair (worker/ops/lookup.py), with real workers, in each
situation: done (the known state and when X said it), running (the claim's job), waiting for a
rate window, paused, scheduled, and held (a locked account)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support import Rtq, wait_for
from worker.core import clock
from worker.core.keys import Keys
from worker.ops.lookup import PairState, read_pair

pytestmark = pytest.mark.usefixtures("worker")


def pair(rtq: Rtq, account_id: str, tweet_id: str) -> PairState:
    return read_pair(rtq.redis, Keys(), account_id, tweet_id,
                     known_state_ttl=rtq.settings.known_state_ttl)


def test_a_finished_pair_says_its_intent_and_when_x_said_its_state(rtq: Rtq) -> None:
    """Retweeted: the intent (seq, job, action), `retweeted` as X said it at the call's time,
    the job succeeded, nothing running, waiting or holding it back."""
    a = rtq.add_account()
    before = clock.now()
    job = rtq.producer.enqueue("retweet", a.account_id, "40")
    rtq.wait_terminal(job)
    after = clock.now()
    state = pair(rtq, a.account_id, "40")
    document = state.as_dict()
    assert document["intent"]["job_id"] == job and document["intent"]["action"] == "retweet"
    assert isinstance(document["intent"]["seq"], int)
    assert document["known"]["state"] == "retweeted"
    said = datetime.fromisoformat(document["known"]["said_at"]).timestamp()
    assert before - 1 <= said <= after + 1
    assert document["latest_job"]["state"] == "succeeded"
    assert (document["running"], document["waiting"], document["held_back_by"]) == (None, [], [])


def test_a_running_job_is_named_by_the_pairs_claim(rtq: Rtq) -> None:
    """X answers slowly: while the call is out, the pair's claim names the job, its worker and
    the lease left."""
    a = rtq.add_account()
    rtq.admin.configure(latency_ms=1000)
    job = rtq.producer.enqueue("retweet", a.account_id, "41")
    wait_for(lambda: rtq.redis.exists(Keys().claim(a.account_id, "41")), 10, "the claim")
    state = pair(rtq, a.account_id, "41")
    assert state.claim_job == job and state.running is not None
    assert state.running.state == "running" and state.running.worker
    running = state.as_dict()["running"]
    assert running["job_id"] == job and running["lease_left_ms"] > 0
    rtq.wait_terminal(job)
    assert pair(rtq, a.account_id, "41").running is None


def test_a_pair_waiting_for_its_rate_window_says_until_when(rtq: Rtq) -> None:
    """A Free-tier account has spent its call: the pair's job waits for the window (its due
    time), and the spent budget is what holds it back, until the window's end."""
    a = rtq.add_account()
    rtq.admin.configure(user_rate_limits={a.account_id: 1})
    rtq.accounts.set_rate_limit(a.account_id, (1, 900))
    rtq.wait_terminal(rtq.producer.enqueue("retweet", a.account_id, "1"))
    job = rtq.producer.enqueue("retweet", a.account_id, "42")
    rtq.wait_state(job, "deferred")
    document = pair(rtq, a.account_id, "42").as_dict()
    (waiting,) = document["waiting"]
    assert (waiting["job_id"], waiting["waiting_for"]) == (job, "rate_window")
    (condition,) = document["held_back_by"]
    assert condition["kind"] == "rate_window" and condition["until"]
    due = datetime.fromisoformat(waiting["due_at"])
    assert due == datetime.fromisoformat(condition["until"])
    assert datetime.now(UTC) + timedelta(seconds=800) < due


def test_a_paused_tweet_holds_the_pairs_job_and_says_so(rtq: Rtq) -> None:
    """`rtq pause --tweet T`: the pair's job waits for the pause (no due time), and the pause is
    named among what holds the pair back."""
    a = rtq.add_account()
    assert rtq.cli("pause", "--tweet", "43").returncode == 0
    job = rtq.producer.enqueue("retweet", a.account_id, "43")
    wait_for(lambda: rtq.redis.llen(Keys().paused("tweet:43")) == 1, 20, "the job paused")
    document = pair(rtq, a.account_id, "43").as_dict()
    (waiting,) = document["waiting"]
    assert (waiting["job_id"], waiting["waiting_for"], waiting["due_at"]) == (job, "pause", None)
    assert [c["detail"] for c in document["held_back_by"]] == ["paused: tweet:43 (rtq resume)"]


def test_a_scheduled_pair_lists_its_scheduled_jobs(rtq: Rtq) -> None:
    """`--at` in an hour and an undo a day later: no intent yet (a scheduled job becomes it when
    due), both scheduled with their action and due time, waiting soonest first."""
    a = rtq.add_account()
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    retweet, undo = rtq.producer.enqueue_boost(a.account_id, "44", "24h", at=at.isoformat())
    document = pair(rtq, a.account_id, "44").as_dict()
    assert document["intent"] is None
    assert [(s["job_id"], s["action"]) for s in document["scheduled"]] == [
        (retweet, "retweet"), (undo, "undo")]
    assert document["scheduled"][0]["due_at"] == clock.iso(at.timestamp())
    assert [(w["job_id"], w["waiting_for"]) for w in document["waiting"]] == [
        (retweet, "schedule"), (undo, "schedule")]


def test_a_held_accounts_pair_says_the_account_holds_it(rtq: Rtq) -> None:
    """X says the account is locked: its job is held, and the pair names the locked account."""
    a = rtq.add_account()
    rtq.admin.add_condition("account_locked", user_id=a.account_id, form="legacy")
    job = rtq.producer.enqueue("retweet", a.account_id, "45")
    wait_for(lambda: rtq.redis.llen(Keys().held(a.account_id)) == 1, 20, "the job held")
    document = pair(rtq, a.account_id, "45").as_dict()
    (waiting,) = document["waiting"]
    assert (waiting["job_id"], waiting["waiting_for"]) == (job, "hold")
    assert [c["detail"] for c in document["held_back_by"]] == [
        f"account {a.account_id} is locked"]
