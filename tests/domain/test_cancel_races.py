"""Cancel against work in motion, with real workers: a job running when it is cancelled
finishes its call (and is reported as running) but is never tried again; a cancel racing many
deliveries leaves each job either called once and succeeded or cancelled without a call; jobs a
worker has prefetched make no call once their account's jobs are cancelled."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from producers import JobRequest
from tests.support import Deployment, Rtq, wait_for
from worker.core.keys import Keys
from worker.domain.cancelling import Cancels, selection
from worker.domain.lanes import queue_depth

K = Keys()


@pytest.mark.usefixtures("worker")
def test_a_running_job_finishes_its_call_and_is_reported_running(rtq: Rtq) -> None:
    """Cancelled while X holds its call: reported running (named); a call that succeeds stays
    succeeded, one that fails (503) is not retried: it ends cancelled after that one call."""
    account = rtq.add_account()
    rtq.admin.script([{"user_id": account.account_id, "tweet_id": "1",
                       "responses": [{"status": 200, "hang_seconds": 1}]},
                      {"user_id": account.account_id, "tweet_id": "2",
                       "responses": [{"status": 503, "hang_seconds": 1}]}])
    ok = rtq.producer.enqueue("retweet", account.account_id, "1")
    failing = rtq.producer.enqueue("retweet", account.account_id, "2")
    rtq.wait_state(ok, "running")
    rtq.wait_state(failing, "running")
    done = rtq.cli("cancel", ok, failing)
    assert done.returncode == 0, done.stderr
    assert "cancelled: 0 job(s)" in done.stdout
    assert f"running: 2 (each finishes the call it is making and is not tried again): " \
           f"{ok} {failing}" in done.stdout
    (finished, cancelled) = rtq.wait_terminal(ok, failing, timeout=30)
    assert (finished.state, finished.attempts) == ("succeeded", 1)
    assert (cancelled.state, cancelled.attempts) == ("cancelled", 1)
    assert "cancelled by an operator (cli:" in (cancelled.reason or "")
    assert Counter(c["tweet_id"] for c in rtq.x_calls()) == {"1": 1, "2": 1}
    assert rtq.redis.hget(K.outcomes, "cancelled") == "1"


@pytest.mark.usefixtures("worker")
def test_cancel_racing_deliveries_never_both_calls_and_cancels(rtq: Rtq) -> None:
    """400 jobs of one account being delivered while its jobs are cancelled (and 100 of
    another account's; both with budget enough for every job): each of the account's jobs
    either made its one call and succeeded, or is cancelled and made none; none lost, none
    both; the other account's all succeed."""
    rtq.admin.configure(latency_ms=5, rate_limit=1000)
    a, b = rtq.add_account(), rtq.add_account()
    for account in (a, b):
        assert rtq.cli("accounts", "limit", account.account_id, "1000/900").returncode == 0
    jobs = rtq.producer.enqueue_many(
        [JobRequest.create("retweet", a.account_id, str(1000 + i)) for i in range(400)])
    others = rtq.producer.enqueue_many(
        [JobRequest.create("retweet", b.account_id, str(1000 + i)) for i in range(100)])
    wait_for(lambda: len(rtq.x_calls(a.account_id)) >= 20, 30, "deliveries under way")
    reports = []
    # Ten jobs per script call, so that the cancel and the deliveries interleave for longer.
    cancels = Cancels(rtq.redis, K, job_ttl=rtq.settings.job_ttl, batch=10)
    cancelling = threading.Thread(target=lambda: reports.append(cancels.cancel(
        selection(account_id=a.account_id), actor="test:race")))
    cancelling.start()
    cancelling.join(60)
    statuses = rtq.wait_terminal(*jobs, timeout=60)
    (report,) = reports
    calls = Counter(c["tweet_id"] for c in rtq.x_calls(a.account_id))
    states = Counter(s.state for s in statuses)
    print(f"\n[figure] cancel racing 400 deliveries: {dict(states)}, "
          f"{len(report.running)} running when cancelled")
    assert set(states) == {"succeeded", "cancelled"} and states["succeeded"] >= 20
    assert states["cancelled"] > 0
    for status in statuses:
        if status.state == "succeeded":
            assert calls[status.tweet_id] == 1 and status.attempts == 1
        else:
            assert calls[status.tweet_id] == 0 and status.attempts == 0
    assert report.cancelled == states["cancelled"]
    assert all(rtq.status(j).state == "succeeded" for j in report.running)
    assert {s.state for s in rtq.wait_terminal(*others, timeout=60)} == {"succeeded"}


def test_jobs_a_worker_has_prefetched_make_no_call_once_cancelled(
        deployment: Deployment) -> None:
    """A worker (one process, prefetch 4) holds a running job and has three more of the
    account's jobs prefetched in memory; the account's jobs are cancelled: the running one
    finishes, the prefetched three end cancelled without a call."""
    rtq = deployment.rtq
    account = rtq.add_account()
    rtq.admin.script([{"user_id": account.account_id, "tweet_id": "1",
                       "responses": [{"status": 200, "hang_seconds": 1}]}])
    deployment.start_worker(1, "--prefetch-multiplier", "4")
    first = rtq.producer.enqueue("retweet", account.account_id, "1")
    rtq.wait_state(first, "running")
    rest = [rtq.producer.enqueue("retweet", account.account_id, str(t)) for t in (2, 3, 4)]
    wait_for(lambda: not queue_depth(rtq.redis, rtq.settings.queue_key)
             and rtq.redis.hlen("unacked") == 4, 10, "three jobs prefetched")
    assert {rtq.status(j).state for j in rest} == {"queued"}
    report = rtq.producer.cancel(account_id=account.account_id, actor="test:python")
    assert (report.cancelled, report.running) == (3, (first,))
    (entry,) = [e for _, e in rtq.redis.xrevrange(K.audit) if e["action"] == "cancel"]
    assert (entry["actor"], entry["target"], entry["jobs"]) == (
        "test:python", f"account:{account.account_id}", "3")
    statuses = rtq.wait_terminal(first, *rest, timeout=30)
    assert [s.state for s in statuses] == ["succeeded"] + ["cancelled"] * 3
    wait_for(lambda: not rtq.redis.hlen("unacked"), 10, "the prefetched messages acked")
    assert [c["tweet_id"] for c in rtq.x_calls(account.account_id)] == ["1"]
