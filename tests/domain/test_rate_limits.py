"""Per-account rate budgets shared by every worker: no call X would refuse, no account slowing
another, and accounts that need re-authorization hold their jobs instead of burning them."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_x import EmulatorAdmin
from producers import JobRequest
from tests.support import Deployment, Rtq, wait_for


@pytest.fixture
def two_workers(rtq_env: dict[str, str], admin: EmulatorAdmin, tmp_path: Path
                ) -> Iterator[Deployment]:
    deployment = Deployment(rtq_env, admin, str(tmp_path))
    deployment.start_worker(2)
    deployment.start_worker(2)
    yield deployment
    deployment.close()


def test_budget_is_shared_by_every_worker_and_never_overspent(two_workers: Deployment) -> None:
    """Two workers, an account allowed 3 calls per 3 s, 9 jobs: 3 calls per window, no 429."""
    rtq = two_workers.rtq
    rtq.admin.configure(rate_limit=3, rate_window=3)
    account = rtq.add_account()
    rtq.accounts.set_rate_limit(account.account_id, (3, 3))
    ids = rtq.producer.enqueue_many(
        [JobRequest.create("retweet", account.account_id, str(t)) for t in range(9)])
    waiting = wait_for(lambda: [s for s in rtq.jobs.get_many(ids) if s and s.state == "deferred"],
                       10, "jobs waiting for the window")
    assert all(s.due_at for s in waiting)
    statuses = rtq.wait_terminal(*ids, timeout=30)
    assert {s.state for s in statuses} == {"succeeded"}
    calls = rtq.x_calls(account.account_id)
    assert [c["status"] for c in calls] == [200] * 9
    assert len(calls) == 9 and all(s.attempts == 1 for s in statuses)


def test_x_headers_teach_the_budget(rtq: Rtq, worker: object) -> None:
    """Before any answer rtq assumes RTQ_RATE_LIMIT; X's headers then rule (limit 2 here)."""
    rtq.admin.configure(rate_limit=2, rate_window=3)
    account = rtq.add_account()
    ids = [rtq.producer.enqueue("retweet", account.account_id, "1")]
    rtq.wait_terminal(*ids)
    ids += rtq.producer.enqueue_many(
        [JobRequest.create("retweet", account.account_id, str(t)) for t in range(2, 6)])
    rtq.wait_terminal(*ids, timeout=30)
    statuses = [c["status"] for c in rtq.x_calls(account.account_id)]
    assert statuses == [200] * 5
    listed = json.loads(rtq.cli("accounts", "list", "--json").stdout)
    assert listed["budgets"]["retweet"]["limit"] == 2


def test_an_idle_account_is_not_delayed_by_a_huge_backlog(rtq: Rtq, worker: object) -> None:
    """10,000 jobs waiting for one account's window; another account's jobs finish in < 1 s."""
    busy, idle = rtq.add_account(), rtq.add_account()
    # A Free-tier account: X allows it 1 call per 15 minutes, and rtq is told so up front.
    rtq.admin.configure(user_rate_limits={busy.account_id: 1})
    rtq.accounts.set_rate_limit(busy.account_id, (1, 900))
    rtq.wait_terminal(rtq.producer.enqueue("retweet", busy.account_id, "0"))
    backlog = [JobRequest.create("retweet", busy.account_id, str(t)) for t in range(1, 10_001)]
    rtq.producer.enqueue_many(backlog)
    assert rtq.redis.zcard(f"rtq:waiting:{busy.account_id}:retweet") >= 9_990
    latencies = []
    for tweet in range(20):
        started = time.monotonic()
        (status,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", idle.account_id,
                                                           str(tweet)), timeout=5)
        latencies.append(time.monotonic() - started)
        assert status.state == "succeeded"
    assert max(latencies) < 1.0, f"p100 {max(latencies):.3f}s, median " \
        f"{statistics.median(latencies):.3f}s"
    assert len(rtq.x_calls(busy.account_id)) == 1


def test_a_401_holds_the_accounts_jobs_until_new_credentials(rtq: Rtq, worker: object) -> None:
    """A revoked token: one job is dead-lettered as unauthorized, the account is marked
    needs_reauth, its other jobs are held (not burned against X), and resume on re-adding."""
    account = rtq.add_account()
    rtq.admin.revoke(account.account_id)
    first = rtq.producer.enqueue("retweet", account.account_id, "1")
    assert rtq.wait_terminal(first)[0].reason == "unauthorized"
    held = [rtq.producer.enqueue("retweet", account.account_id, str(t)) for t in (2, 3)]
    for job_id in held:
        status = rtq.wait_state(job_id, "deferred")
        wait_for(lambda j=job_id: "re-authorization" in (rtq.status(j).detail or ""), 10,
                 "the job to be held")
    listed = json.loads(rtq.cli("accounts", "list", "--json").stdout)
    assert (listed["state"], listed["held_jobs"]) == ("needs_reauth", 2)
    assert len(rtq.x_calls(account.account_id)) == 1 and rtq.dead_letters.count() == 1
    # When the user re-authorizes (X knows the token again) and rtq gets the credentials
    rtq.admin.register_account(**{k: account.credentials[k] for k in (
        "consumer_key", "consumer_secret", "access_token", "access_token_secret")})
    added = rtq.cli("accounts", "add", input=json.dumps(account.credentials))
    assert added.returncode == 0, added.stderr
    statuses = rtq.wait_terminal(*held)
    assert [s.state for s in statuses] == ["succeeded", "succeeded"]
    assert json.loads(rtq.cli("accounts", "list", "--json").stdout)["state"] == "active"
    del status


def test_per_account_limits_for_mixed_tiers(rtq: Rtq, worker: object) -> None:
    """`rtq accounts limit` gives a Free-tier account 1 call per window while others run."""
    free, pro = rtq.add_account(), rtq.add_account()
    rtq.admin.configure(user_rate_limits={free.account_id: 1})
    result = rtq.cli("accounts", "limit", free.account_id, "1/900")
    assert result.returncode == 0, result.stderr
    free_jobs = [rtq.producer.enqueue("retweet", free.account_id, str(t)) for t in range(3)]
    pro_jobs = [rtq.producer.enqueue("retweet", pro.account_id, str(t)) for t in range(3)]
    assert [s.state for s in rtq.wait_terminal(*pro_jobs)] == ["succeeded"] * 3
    wait_for(lambda: sorted(s.state for s in rtq.jobs.get_many(free_jobs) if s)
             == ["deferred", "deferred", "succeeded"], 10, "the free account to wait")
    listed = {a["account_id"]: a for a in map(
        json.loads, rtq.cli("accounts", "list", "--json").stdout.splitlines())}
    assert listed[free.account_id]["rate_limit"] == "1/900"
    assert listed[free.account_id]["budgets"]["retweet"]["remaining"] == 0
    assert rtq.cli("accounts", "limit", free.account_id, "fast").returncode == 2


def test_a_24_hour_limit_announced_by_x_is_honoured(rtq: Rtq, worker: object) -> None:
    """X sends x-user-limit-24hour-*: once spent, jobs wait for its reset, no 429."""
    rtq.admin.configure(user_limit_24h=2)
    account = rtq.add_account()
    done = [rtq.producer.enqueue("retweet", account.account_id, str(t)) for t in (1, 2)]
    rtq.wait_terminal(*done)
    job_id = rtq.producer.enqueue("undo", account.account_id, "1")
    status = rtq.wait_state(job_id, "deferred")
    due = wait_for(lambda: rtq.status(job_id).due_at, 5, "a due time")
    assert due > status.updated_at  # about a day later
    assert [c["status"] for c in rtq.x_calls(account.account_id)] == [200, 200]


def test_a_higher_limit_learned_from_x_raises_the_budget(rtq: Rtq, worker: object) -> None:
    """rtq assumes 50 per window; X says 80: all 80 jobs run now, none waits 15 minutes."""
    rtq.admin.configure(rate_limit=80)
    account = rtq.add_account()
    ids = rtq.producer.enqueue_many(
        [JobRequest.create("retweet", account.account_id, str(t)) for t in range(80)])
    statuses = rtq.wait_terminal(*ids, timeout=30)
    assert {s.state for s in statuses} == {"succeeded"}
    assert len(rtq.x_calls(account.account_id)) == 80
