"""An operator cancels pending jobs, end to end with real workers: one job, an account's jobs in
every place a job waits, a tweet across accounts, one pair; cancelled jobs make no call and
stay cancelled when what held them lets go; counted in stats and metrics; bad input names the
argument."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from producers import JobRequest, Producer
from tests.support import Rtq, wait_for
from worker.core import clock
from worker.core.keys import QUEUE, Keys
from worker.core.settings import Settings
from worker.domain import lanes
from worker.domain.lanes import queue_depth
from worker.ops.history import last_minutes
from worker.ops.latency import PLACES
from worker.ops.metrics import registry
from worker.ops.stats import StatsReader

pytestmark = pytest.mark.usefixtures("worker")
K = Keys()
# A queue no worker consumes: its lanes stand for messages no worker has taken yet.
IDLE = "rtq-cancel-idle"


def later(hours: float = 1) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


def idle(rtq: Rtq, *, parked: int = 0) -> None:
    """Nothing left in the queue or in flight, and only `parked` jobs parked."""
    wait_for(lambda: not queue_depth(rtq.redis, QUEUE) and not rtq.redis.hlen("unacked")
             and rtq.redis.zcard(K.parked) == parked, 30, "the workers to be idle")


def cancel_json(rtq: Rtq, *args: str) -> dict[str, object]:
    done = rtq.cli("cancel", *args, "--json")
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def waits_nowhere(rtq: Rtq, job_ids: list[str]) -> None:
    """No wait index, parking lot, message store or rate-window wait still names these jobs."""
    for place in PLACES:
        assert not [j for j in job_ids if rtq.redis.zscore(K.age(place), j) is not None], place
    assert not [j for j in job_ids if rtq.redis.zscore(K.parked, j) is not None]
    assert not [j for j in job_ids if rtq.redis.hexists(K.parked_messages, j)]


def test_cancelling_one_job_ends_it_cancelled_without_a_call(rtq: Rtq) -> None:
    """`rtq cancel JOB_ID`: a scheduled retweet ends `cancelled` (reason names the operator),
    never runs; cancelling it again counts it as finished."""
    account = rtq.add_account()
    job_id = rtq.producer.enqueue("retweet", account.account_id, "5", at=later())
    done = rtq.cli("cancel", job_id)
    assert done.returncode == 0, done.stderr
    assert "cancelled: 1 job(s)" in done.stdout and "running: 0" in done.stdout
    status = rtq.status(job_id)
    assert status.state == "cancelled" and status.terminal and status.attempts == 0
    assert (status.reason or "").startswith("cancelled by an operator (cli:")
    assert status.as_dict()["reason"] == status.reason and status.due_at is None
    waits_nowhere(rtq, [job_id])
    assert rtq.redis.zcard(K.scheduled(account.account_id, "5")) == 0
    again = cancel_json(rtq, job_id)
    assert (again["cancelled"], again["finished"]) == (0, 1)
    assert rtq.x_calls() == []


def test_an_accounts_jobs_are_cancelled_wherever_they_wait(rtq: Rtq) -> None:
    """An account with jobs in the queue's lanes, a rate-window wait, a busy pair's retry,
    scheduled, paused and held: `rtq cancel --account` cancels all 15 (one finished job left as
    it is); once every hold lets go, none of them calls X, and the counters count 15."""
    a = rtq.add_account()
    account = a.account_id
    (first,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", account, "1"))
    assert first.state == "succeeded"
    # scheduled
    scheduled = [rtq.producer.enqueue("retweet", account, "10", at=later()),
                 rtq.producer.enqueue("undo", account, "11", at=later())]
    # waiting for the undo window (as X's headers leave a spent budget)
    rtq.redis.hset(K.budget(account, "undo"), mapping={
        "limit": 1, "remaining": 0, "reset": clock.ms(clock.now()) + 3_600_000})
    waiting = [rtq.producer.enqueue("undo", account, t) for t in ("20", "21")]
    assert rtq.redis.zcard(K.waiting(account, "undo")) == 2
    # paused (rtq pause --tweet)
    for tweet in ("30", "31"):
        assert rtq.cli("pause", "--tweet", tweet).returncode == 0
    paused = [rtq.producer.enqueue("retweet", account, t) for t in ("30", "31")]
    wait_for(lambda: sum(rtq.redis.llen(K.paused(f"tweet:{t}")) for t in ("30", "31")) == 2,
             20, "the paused jobs held")
    # a pair another delivery holds: parked for a retry, again and again
    rtq.redis.set(K.claim(account, "40"), "another-delivery", px=120_000)
    busy = [rtq.producer.enqueue("retweet", account, "40")]
    wait_for(lambda: rtq.redis.zscore(K.age("retry"), busy[0]) is not None, 20, "busy parked")
    # the queue's lanes (fast and overflow): messages no worker has taken yet
    producer = Producer(rtq.redis, Settings.from_env({**rtq.env, "RTQ_QUEUE": IDLE}))
    lane_jobs = producer.enqueue_many(
        [JobRequest.create("retweet", account, str(60 + i)) for i in range(6)])
    assert rtq.redis.llen(lanes.lane(IDLE, lanes.OVERFLOW)) == 6 - lanes.FAST_LANE_SHARE
    # held: the account locked on X (as settle.lua marks it); begin.lua holds its new jobs
    rtq.redis.hset(K.account_meta(account), mapping={"state": "locked", "held_detail": "x"})
    held = [rtq.producer.enqueue("retweet", account, t) for t in ("50", "51")]
    wait_for(lambda: rtq.redis.llen(K.held(account)) == 2, 20, "the held jobs")
    pending = scheduled + waiting + paused + busy + lane_jobs + held
    assert {s.state for s in rtq.jobs.get_many(pending) if s} <= {"queued", "deferred"}

    report = cancel_json(rtq, "--account", account)
    assert report == {"target": f"account:{account}", "cancelled": 15, "finished": 1,
                      "running": [], "missing": 0}
    assert {s.state for s in rtq.jobs.get_many(pending) if s} == {"cancelled"}
    waits_nowhere(rtq, pending)
    assert rtq.redis.zcard(K.waiting(account, "undo")) == 0
    assert rtq.redis.exists(K.scheduled(account, "10"), K.scheduled(account, "11")) == 0

    # Everything that held them lets go: resume, release, the claim gone, the window open,
    # the messages reach the workers.
    for tweet in ("30", "31"):
        resumed = rtq.cli("resume", "--tweet", tweet)
        assert "0 held job(s)" in resumed.stdout, resumed.stdout + resumed.stderr
    released = rtq.cli("accounts", "release", account)
    assert released.returncode == 0 and "0 held job(s)" in released.stdout, released.stderr
    rtq.redis.delete(K.claim(account, "40"), K.budget(account, "undo"))
    rtq.redis.zadd(K.groups, {f"{account}:undo": 0})
    for source, target in zip(lanes.all_lanes(IDLE), lanes.all_lanes(QUEUE), strict=True):
        while rtq.redis.lmove(source, target, "RIGHT", "LEFT") is not None:
            pass
    (marker,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", account, "99"))
    assert marker.state == "succeeded"
    idle(rtq)
    assert sorted(c["tweet_id"] for c in rtq.x_calls(account)) == ["1", "99"]
    assert {s.state for s in rtq.jobs.get_many(pending) if s} == {"cancelled"}

    # Counted: rtq stats, the metrics exporter, the last hour's chart, the audit trail.
    stats = json.loads(rtq.cli("stats", "--json").stdout)
    assert stats["outcomes"]["cancelled"] == 15
    text = generate_latest(registry(StatsReader(rtq.redis, rtq.settings))).decode()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("rtq_jobs_total", (("outcome", "cancelled"),))] == 15
    assert samples[("rtq_job_latency_seconds_count", (("outcome", "cancelled"),))] == 15
    assert sum(m.counts.get("cancelled", 0) for m in last_minutes(rtq.redis, K)) == 15
    (entry,) = [e for _, e in rtq.redis.xrevrange(K.audit) if e["action"] == "cancel"]
    assert (entry["target"], entry["jobs"]) == (f"account:{account}", "15")
    assert entry["actor"].startswith("cli:") and json.loads(entry["details"])["finished"] == 1


def test_cancelling_a_tweet_reaches_every_account_and_only_that_tweet(rtq: Rtq) -> None:
    """`rtq cancel --tweet T` (a scam found after the fact): three accounts' pending jobs for T
    (paused ones and a scheduled undo) are cancelled, other tweets' are not; resumed, nothing
    for T calls X. `--account A --tweet T` cancels that pair only."""
    a, b, c = (rtq.add_account() for _ in range(3))
    assert rtq.cli("pause", "--tweet", "777").returncode == 0
    paused = [rtq.producer.enqueue("retweet", x.account_id, "777") for x in (a, b)]
    undo_later = rtq.producer.enqueue("undo", c.account_id, "777", at=later())
    other = rtq.producer.enqueue("retweet", a.account_id, "778", at=later())
    pair = rtq.producer.enqueue("retweet", b.account_id, "779", at=later())
    keep = rtq.producer.enqueue("retweet", c.account_id, "779", at=later())
    wait_for(lambda: rtq.redis.llen(K.paused("tweet:777")) == 2, 20, "both paused")
    report = cancel_json(rtq, "--tweet", "https://x.com/someone/status/777")
    assert (report["target"], report["cancelled"], report["running"]) == ("tweet:777", 3, [])
    assert [s.state for s in rtq.jobs.get_many([*paused, undo_later])] == ["cancelled"] * 3
    assert rtq.status(other).state == "deferred"
    by_pair = cancel_json(rtq, "--account", b.account_id, "--tweet", "779")
    assert (by_pair["target"], by_pair["cancelled"]) == (f"account:{b.account_id} tweet:779", 1)
    assert (rtq.status(pair).state, rtq.status(keep).state) == ("cancelled", "deferred")
    assert "0 held job(s)" in rtq.cli("resume", "--tweet", "777").stdout
    (marker,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", a.account_id, "1"))
    assert marker.state == "succeeded"
    idle(rtq, parked=2)  # `other` and `keep`, due in an hour
    assert [call["tweet_id"] for call in rtq.x_calls()] == ["1"]


def test_bad_cancel_input_names_the_argument(rtq: Rtq) -> None:
    """No filter, ids and filters together, a malformed id, an unknown job or account: a clear
    error naming the argument, and nothing cancelled or audited."""
    account = rtq.add_account()
    job_id = rtq.producer.enqueue("retweet", account.account_id, "5", at=later())
    cases = [
        ((), 2, "nothing to cancel: give JOB_ID..., --account ACCOUNT or --tweet TWEET"),
        ((job_id, "--account", account.account_id), 2, "JOB_ID and --account/--tweet"),
        (("not a job id",), 2, "JOB_ID: 'not a job id' is not a job id"),
        ((job_id, "no-such-job"), 1, "JOB_ID: no job no-such-job"),
        (("--account", "abc"), 2, "--account: expected 1-19 ASCII digits"),
        (("--account", "424242"), 1, "--account: no account 424242"),
        (("--tweet", "http://x.com/a/status/1"), 2, "--tweet: only https://"),
    ]
    for args, code, message in cases:
        done = rtq.cli("cancel", *args)
        assert (done.returncode, message in done.stderr) == (code, True), (args, done.stderr)
    assert rtq.status(job_id).state == "deferred"
    assert [e for _, e in rtq.redis.xrange(K.audit) if e["action"] == "cancel"] == []
