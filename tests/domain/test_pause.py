"""An operator pauses and resumes work, end to end with real workers: everything, one account,
or one tweet across accounts; paused jobs wait without a call, an attempt or a dead letter while
producers keep enqueuing, and all finish after `rtq resume`."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from producers import JobRequest
from tests.support import Rtq, wait_for
from worker.core.keys import Keys
from worker.domain.pauses import Pauses, scope_of

pytestmark = pytest.mark.usefixtures("worker")


def paused(rtq: Rtq, scope: str) -> int:
    return int(rtq.redis.llen(Keys().paused(scope)))


def test_pausing_everything_holds_every_job_until_resume(rtq: Rtq) -> None:
    """`rtq pause`: 40 jobs of 4 accounts enqueued while paused make no call and wait (no
    attempt, no dead letter); `rtq resume` lets all 40 go, and each succeeds."""
    accounts = [rtq.add_account() for _ in range(4)]
    done = rtq.cli("pause")
    assert done.returncode == 0 and "paused: all" in done.stdout
    job_ids = rtq.producer.enqueue_many([
        JobRequest.create("retweet", accounts[i % 4].account_id, str(100 + i))
        for i in range(40)])
    wait_for(lambda: paused(rtq, "all") == 40, 30, "every job held by the pause")
    assert rtq.x_calls() == [] and rtq.dead_letters.list() == []
    statuses = rtq.jobs.get_many(job_ids)
    assert Counter(s.state for s in statuses if s) == {"deferred": 40}
    assert all(s and s.attempts == 0 and "paused: all" in (s.detail or "") for s in statuses)
    listed = rtq.cli("pause", "--list", "--json")
    (entry,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (entry["scope"], entry["held_jobs"]) == ("all", 40) and entry["since"]
    resumed = rtq.cli("resume")
    assert resumed.returncode == 0 and "40 held job(s)" in resumed.stdout, resumed.stderr
    finished = rtq.wait_terminal(*job_ids, timeout=60)
    assert Counter(s.state for s in finished) == {"succeeded": 40}
    assert len(rtq.x_calls()) == 40
    audit = [entry["action"] + " " + entry["target"] + " " + entry.get("jobs", "")
             for _, entry in reversed(rtq.redis.xrange(Keys().audit))]
    assert audit[:2] == ["resume all 40", "pause all "]
    assert rtq.redis.zcard(Keys().age("paused")) == 0 and Pauses(rtq.redis, Keys()).list() == []


def test_pausing_one_account_leaves_the_others_running(rtq: Rtq) -> None:
    """`rtq pause --account A`: A's jobs wait, B's succeed; `rtq resume --account A` lets A's
    go."""
    a, b = rtq.add_account(), rtq.add_account()
    assert rtq.cli("pause", "--account", a.account_id).returncode == 0
    a_jobs = [rtq.producer.enqueue("retweet", a.account_id, str(t)) for t in range(1, 6)]
    b_jobs = [rtq.producer.enqueue("retweet", b.account_id, str(t)) for t in range(1, 6)]
    assert {s.state for s in rtq.wait_terminal(*b_jobs)} == {"succeeded"}
    wait_for(lambda: paused(rtq, f"account:{a.account_id}") == 5, 20, "A's jobs held")
    assert rtq.x_calls(a.account_id) == []
    assert rtq.cli("resume", "--account", a.account_id).returncode == 0
    assert {s.state for s in rtq.wait_terminal(*a_jobs, timeout=30)} == {"succeeded"}


def test_pausing_a_tweet_holds_it_for_every_account(rtq: Rtq) -> None:
    """`rtq pause --tweet T` (a scam found after the fact): no account's job for T calls X; other
    tweets go on; resumed, T's jobs run."""
    a, b = rtq.add_account(), rtq.add_account()
    assert rtq.cli("pause", "--tweet", "777").returncode == 0
    held = [rtq.producer.enqueue("retweet", x.account_id, "777") for x in (a, b)]
    other = rtq.producer.enqueue("retweet", a.account_id, "778")
    assert rtq.wait_terminal(other)[0].state == "succeeded"
    wait_for(lambda: paused(rtq, "tweet:777") == 2, 20, "both jobs for the tweet held")
    assert [c["tweet_id"] for c in rtq.x_calls()] == ["778"]
    assert rtq.cli("resume", "--tweet", "777").returncode == 0
    assert {s.state for s in rtq.wait_terminal(*held, timeout=30)} == {"succeeded"}


def test_bad_pause_input_names_the_argument(rtq: Rtq) -> None:
    """Both filters, a non-digit id, an unknown account, or resuming what is not paused: a clear
    error, nothing changed."""
    both = rtq.cli("pause", "--account", "1", "--tweet", "2")
    assert both.returncode == 2 and "--account and --tweet" in both.stderr
    bad = rtq.cli("pause", "--account", "abc")
    assert bad.returncode == 2 and "--account:" in bad.stderr
    unknown = rtq.cli("pause", "--account", "424242")  # a typo would leave the real one running
    assert unknown.returncode == 1 and "--account: unknown account 424242" in unknown.stderr
    not_paused = rtq.cli("resume", "--tweet", "5")
    assert not_paused.returncode == 1 and "tweet:5 is not paused" in not_paused.stderr
    assert Pauses(rtq.redis, Keys()).list() == []
    assert scope_of() == "all" and scope_of(tweet_id="9") == "tweet:9"


@pytest.mark.parametrize("batch", [2000, 3])
def test_resume_lets_jobs_go_in_intent_order_a_batch_at_a_time(rtq: Rtq, batch: int) -> None:
    """resume.lua parks the held jobs due now, one ms apart, in the order they were enqueued
    (the list has them in the order workers met them, which the fair lanes reorder a little),
    skipping one cancelled meanwhile (no message); in batches, each batch in that order and
    every job let go. A key prefix of its own: no worker's mover takes them meanwhile."""
    keys = Keys("rtqresume")
    met = ["j3", "j1", "j5", "j2", "j4", "j6", "j7"]  # as workers met them
    enqueued_ms = {f"j{n}": 1_000 + n for n in range(1, 8)}
    rtq.redis.rpush(keys.paused("all"), *met)
    rtq.redis.zadd(keys.age("paused"), enqueued_ms)
    rtq.redis.hset(keys.parked_messages, mapping={j: "{}" for j in met if j != "j4"})
    rtq.redis.set(keys.pause("all"), "2026-12-04T00:00:00+00:00")
    rtq.redis.sadd(keys.pauses, "all")
    try:
        assert Pauses(rtq.redis, keys).resume("all", batch=batch) == 6
        order = rtq.redis.zrange(keys.parked, 0, -1)
        if batch >= len(met):
            assert order == ["j1", "j2", "j3", "j5", "j6", "j7"]
        else:  # each batch of three in intent order: [j3 j1 j5] [j2 (j4) j6] [j7]
            assert order == ["j1", "j3", "j5", "j2", "j6", "j7"]
        scores = [score for _, score in rtq.redis.zrange(keys.parked, 0, -1, withscores=True)]
        assert scores == sorted(scores) and len(set(scores)) == 6
        assert not rtq.redis.exists(keys.paused("all"), keys.pause("all"), keys.pauses,
                                    keys.age("paused"))
    finally:
        found = list(rtq.redis.scan_iter("rtqresume:*"))
        if found:
            rtq.redis.delete(*found)
