"""Deadlines end to end with real workers and the emulator: a job not started by its deadline
ends `expired` at about that time, wherever it waits (a rate window that outlasts it, the
parking lot, a pause, a held account, the queue), makes no call to X, and is no dead letter;
a raw `send_task` message's Celery `expires` is honoured, even when Celery itself drops it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fake_x import EmulatorAdmin
from producers import JobRequest
from tests.support import Deployment, Rtq, wait_for
from worker.celery_adapter.runtime import build_service
from worker.core import clock
from worker.core.keys import Keys
from worker.domain.deadlines import Deadlines
from worker.domain.job import Outcome
from worker.domain.jobs import JobStatus

pytestmark = pytest.mark.usefixtures("worker")
KEYS = Keys()
PLACES = ("retry", "scheduled", "rate_window", "held_account", "held_app", "paused")


def seconds(iso: str | None) -> float:
    assert iso is not None
    return datetime.fromisoformat(iso).timestamp()


def assert_expired_on_time(status: JobStatus, slack: float = 1.5) -> None:
    """Expired, at its deadline (the mover sweeps every 0.25 s), with its reason."""
    assert status.state == "expired", status
    assert status.reason == "not started by its deadline"
    late = seconds(status.updated_at) - seconds(status.expires_at)
    print(f"\n[figure] expired {late * 1000:.0f} ms after its deadline")
    assert 0 <= late < slack


def nothing_waits(rtq: Rtq, job_id: str) -> None:
    """The job left every place keyed by job id, and the deadlines."""
    assert rtq.redis.zscore(KEYS.deadlines, job_id) is None
    assert rtq.redis.zscore(KEYS.parked, job_id) is None
    assert not rtq.redis.hexists(KEYS.parked_messages, job_id)
    assert all(rtq.redis.zscore(KEYS.age(p), job_id) is None for p in PLACES)


def limited_account(rtq: Rtq) -> str:
    """An account allowed one call per 15 minutes, whose one call is spent."""
    account = rtq.add_account().account_id
    rtq.admin.configure(user_rate_limits={account: 1})
    rtq.accounts.set_rate_limit(account, (1, 900))
    (first,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", account, "1"))
    assert first.state == "succeeded"
    return account


def test_a_job_waiting_for_a_rate_window_that_outlasts_its_deadline_expires_at_it(
        rtq: Rtq) -> None:
    """Given an account whose next window opens in 15 minutes, when a job with max_delay 2s
    waits for it, then at its deadline it ends expired: no call, no dead letter, counted in
    the stats and shown by `rtq status` with its reason."""
    account = limited_account(rtq)
    job_id = rtq.producer.enqueue("retweet", account, "2", max_delay="2s")
    wait_for(lambda: rtq.redis.zscore(KEYS.waiting(account, "retweet"), job_id), 10,
             "the job waiting for the window")
    assert rtq.status(job_id).state == "deferred"
    status = rtq.wait_state(job_id, "expired", timeout=10)
    assert_expired_on_time(status)
    assert status.attempts == 0 and "rate window" in (status.detail or "")
    assert len(rtq.x_calls(account)) == 1  # the first job's only
    assert rtq.dead_letters.list() == []
    assert rtq.redis.zcard(KEYS.waiting(account, "retweet")) == 0
    nothing_waits(rtq, job_id)
    shown = rtq.cli("status", job_id)
    assert shown.returncode == 0
    assert "expired" in shown.stdout and "not started by its deadline" in shown.stdout
    stats = json.loads(rtq.cli("stats", "--json").stdout)
    assert stats["outcomes"]["expired"] == 1 and stats["dead_letters"]["total"] == 0
    assert rtq.redis.hget(KEYS.latency, "expired:sum_ms") is not None


def test_a_job_parked_for_a_retry_expires_at_its_deadline(
        rtq_env: dict[str, str], admin: EmulatorAdmin, tmp_path: Path) -> None:
    """Given X answers 503 and retries back off for about a minute, when a job with a 2 s
    deadline is parked for its retry, then it ends expired at its deadline after its one call,
    and no retry is made."""
    deployment = Deployment(rtq_env, admin, str(tmp_path), RTQ_RETRY_BACKOFF="60",
                            RTQ_RETRY_BACKOFF_MAX="60")
    try:
        deployment.start_worker(1)
        rtq = deployment.rtq
        account = rtq.add_account().account_id
        rtq.admin.script([{"user_id": account, "responses": [{"status": 503}]}])
        job_id = rtq.producer.enqueue("undo", account, "5",
                                      expires_at=clock.iso(clock.now() + 2))
        wait_for(lambda: rtq.redis.zscore(KEYS.parked, job_id), 10, "the job parked to retry")
        status = rtq.wait_state(job_id, "expired", timeout=10)
        assert_expired_on_time(status)
        assert status.attempts == 1 and "parked for a retry" in (status.detail or "")
        assert [c["status"] for c in rtq.x_calls(account)] == [503]
        assert rtq.dead_letters.list() == []
        nothing_waits(rtq, job_id)
    finally:
        deployment.close()


def test_a_paused_job_expires_and_resume_does_not_run_it(rtq: Rtq) -> None:
    """Given everything paused, a job with max_delay 1s held by the pause ends expired at its
    deadline; `rtq resume` then lets only the other job go, and X is never called for it."""
    account = rtq.add_account().account_id
    assert rtq.cli("pause").returncode == 0
    job_id = rtq.producer.enqueue("retweet", account, "7", max_delay=1)
    other = rtq.producer.enqueue("retweet", account, "8")
    wait_for(lambda: rtq.redis.llen(KEYS.paused("all")) == 2, 10, "both jobs paused")
    status = rtq.wait_state(job_id, "expired", timeout=10)
    assert_expired_on_time(status)
    assert "paused: all" in (status.detail or "")
    nothing_waits(rtq, job_id)
    resumed = rtq.cli("resume")
    assert resumed.returncode == 0 and "1 held job(s)" in resumed.stdout, resumed.stdout
    (done,) = rtq.wait_terminal(other)
    assert done.state == "succeeded"
    wait_for(lambda: rtq.redis.zcard(KEYS.parked) == 0, 10, "the parking lot emptied")
    assert [c["tweet_id"] for c in rtq.x_calls(account)] == ["8"]
    assert rtq.status(job_id).state == "expired"


def test_a_held_accounts_jobs_expire_and_its_release_publishes_none_of_them(rtq: Rtq) -> None:
    """Given a locked account, two jobs with a 3 s deadline are held (after the one call that
    found the account locked); at their deadline both end expired, and `rtq accounts release`
    finds no job to let go."""
    account = rtq.add_account().account_id
    rtq.admin.add_condition("account_locked", user_id=account, form="v2")
    job_ids = [rtq.producer.enqueue("retweet", account, str(t), max_delay="3s")
               for t in (1, 2)]
    wait_for(lambda: rtq.redis.llen(KEYS.held(account)) == 2, 15, "both jobs held")
    expired = [rtq.wait_state(job_id, "expired", timeout=10) for job_id in job_ids]
    for status in expired:
        assert_expired_on_time(status)
        assert "held" in (status.detail or "")
    calls = len(rtq.x_calls(account))
    rtq.admin.clear_conditions()
    released = rtq.cli("accounts", "release", account)
    assert released.returncode == 0 and "0 held job(s)" in released.stdout, released.stdout
    assert len(rtq.x_calls(account)) == calls and rtq.dead_letters.list() == []


def test_a_job_met_past_its_deadline_ends_expired_in_begin(
        rtq_env: dict[str, str], admin: EmulatorAdmin, tmp_path: Path) -> None:
    """Given a job whose deadline passed while it stood in the queue (no mover running: a
    redelivered or prefetched message meets the same check), when a worker's service is given
    it, then begin.lua ends it expired without a call, once: a second delivery is a duplicate."""
    deployment = Deployment(rtq_env, admin, str(tmp_path))
    try:
        rtq = deployment.rtq
        account = rtq.add_account().account_id
        job_id = rtq.producer.enqueue("retweet", account, "3", max_delay=1)
        deadline = seconds(rtq.status(job_id).expires_at)
        wait_for(lambda: clock.now() > deadline, 5, "the deadline to pass")
        service = build_service(deployment.settings, deployment.redis)
        kwargs = {"account_id": account, "tweet_id": "3"}
        assert service.handle("retweet", job_id, (), kwargs) is Outcome.EXPIRED
        assert service.handle("retweet", job_id, (), kwargs) is Outcome.EXPIRED
        assert rtq.status(job_id).state == "expired" and rtq.x_calls(account) == []
        assert rtq.redis.hget(KEYS.outcomes, "expired") == "1"
        assert rtq.redis.zscore(KEYS.deadlines, job_id) is None
    finally:
        deployment.close()


def test_a_job_started_in_time_finishes_and_leaves_the_deadlines(rtq: Rtq) -> None:
    """A job with a generous deadline runs as usual; finished, it no longer costs a member of
    the deadlines set."""
    account = rtq.add_account().account_id
    job_id = rtq.producer.enqueue("retweet", account, "4", max_delay="1h")
    assert rtq.redis.zscore(KEYS.deadlines, job_id) is not None
    (status,) = rtq.wait_terminal(job_id)
    assert status.state == "succeeded" and status.expires_at is not None
    assert rtq.redis.zcard(KEYS.deadlines) == 0


# -- raw send_task messages ----------------------------------------------------------------

def test_a_raw_message_already_expired_when_taken_ends_expired_not_vanished(rtq: Rtq) -> None:
    """Given a foreign Celery client's message whose `expires` has passed, Celery's worker
    drops it before our task runs (task_revoked, expired=True); rtq's record says expired and
    the stats count it; X is never called."""
    account = rtq.add_account().account_id
    past = datetime.now(UTC) - timedelta(seconds=5)
    job_id = rtq.send_task("rtq.retweet", kwargs={"account_id": account, "tweet_id": "9"},
                           expires=past)
    status = rtq.wait_state(job_id, "expired", timeout=10)
    print(f"\n[figure] {status.reason}")
    assert status.reason is not None and status.reason.startswith("not started by its deadline")
    assert status.expires_at is not None
    assert abs(seconds(status.expires_at) - past.timestamp()) < 0.01
    assert rtq.x_calls(account) == [] and rtq.dead_letters.list() == []
    assert rtq.redis.hget(KEYS.outcomes, "expired") == "1"
    nothing_waits(rtq, job_id)


def test_a_raw_message_waiting_for_a_rate_window_expires_at_its_expires(rtq: Rtq) -> None:
    """Given an account whose window opens in 15 minutes, a raw message with `expires` 2 s
    ahead waits for the window and ends expired at that time, without a call."""
    account = limited_account(rtq)
    expires = datetime.now(UTC) + timedelta(seconds=2)
    job_id = rtq.send_task("rtq.retweet", kwargs={"account_id": account, "tweet_id": "2"},
                           expires=expires)
    wait_for(lambda: rtq.redis.zscore(KEYS.waiting(account, "retweet"), job_id), 10,
             "the raw job waiting for the window")
    status = rtq.wait_state(job_id, "expired", timeout=10)
    assert_expired_on_time(status)
    assert len(rtq.x_calls(account)) == 1 and rtq.dead_letters.list() == []


@pytest.fixture
def max_delay_deployment(rtq_env: dict[str, str], admin: EmulatorAdmin, tmp_path: Path
                         ) -> Iterator[Deployment]:
    deployment = Deployment(rtq_env, admin, str(tmp_path), RTQ_JOB_MAX_DELAY="2s")
    deployment.start_worker(1)
    yield deployment
    deployment.close()


def test_rtq_job_max_delay_gives_jobs_without_a_deadline_one(
        max_delay_deployment: Deployment) -> None:
    """RTQ_JOB_MAX_DELAY=2s: a producer's job without a deadline and a raw message without
    `expires`, both waiting for a rate window, end expired 2 s after they were due; a job
    with its own max_delay keeps it."""
    rtq = max_delay_deployment.rtq
    account = limited_account(rtq)
    ours = rtq.producer.enqueue("retweet", account, "2")
    own = rtq.producer.enqueue("retweet", account, "3", max_delay="1h")
    raw = rtq.send_task("rtq.retweet", kwargs={"account_id": account, "tweet_id": "4"})
    ours_status = rtq.wait_state(ours, "expired", timeout=10)
    assert_expired_on_time(ours_status)
    assert 1.9 < seconds(ours_status.expires_at) - seconds(ours_status.created_at) < 2.1
    raw_status = rtq.wait_state(raw, "expired", timeout=10)
    assert_expired_on_time(raw_status)
    assert rtq.status(own).state == "deferred"
    assert seconds(rtq.status(own).expires_at) - clock.now() > 3000
    assert len(rtq.x_calls(account)) == 1


def test_the_sweep_expires_a_large_backlog_in_batches(
        rtq_env: dict[str, str], admin: EmulatorAdmin, tmp_path: Path) -> None:
    """10,000 jobs waiting in one account's rate window, all past their deadline: the sweep
    (500 per script call) expires every one, counts each once and leaves no wait behind."""
    deployment = Deployment(rtq_env, admin, str(tmp_path))
    try:
        rtq = deployment.rtq
        account = rtq.add_account().account_id
        rtq.redis.hset(KEYS.budget(account, "retweet"), mapping={
            "limit": 1, "remaining": 0, "reset": clock.ms(clock.now()) + 900_000})
        rtq.producer.enqueue_many([JobRequest.create("retweet", account, str(t), max_delay=1)
                                   for t in range(1, 10_001)])
        assert rtq.redis.zcard(KEYS.waiting(account, "retweet")) == 10_000
        deadlines = Deadlines(rtq.redis, KEYS, deployment.settings.job_ttl)
        started, sweeps, expired = time.perf_counter(), 0, 0
        while (count := deadlines.sweep(clock.now() + 2)):
            sweeps, expired = sweeps + 1, expired + count
        took = time.perf_counter() - started
        print(f"\n[figure] 10,000 waiting jobs expired in {sweeps} sweeps, {took * 1000:.0f} ms")
        assert (expired, sweeps) == (10_000, 20) and took < 10
        assert rtq.redis.zcard(KEYS.waiting(account, "retweet")) == 0
        assert rtq.redis.zcard(KEYS.deadlines) == 0 and rtq.redis.hlen(KEYS.parked_messages) == 0
        assert rtq.redis.hget(KEYS.outcomes, "expired") == "10000"
        assert rtq.redis.zcard(KEYS.age("rate_window")) == 0
    finally:
        deployment.close()
