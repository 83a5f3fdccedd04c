"""Scheduled intents: --at, --undo-after (a temporary boost), cancellation by a later intent,
and survival across worker and Redis restarts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import producers
from tests.support import Deployment, Rtq


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def _retweeted(rtq: Rtq, account_id: str, tweet: str) -> bool:
    return tweet in rtq.admin.state(account_id).get(account_id, [])


@pytest.mark.usefixtures("worker")
def test_a_job_scheduled_at_a_time_runs_then_not_before(rtq: Rtq) -> None:
    """`rtq retweet --at`: deferred with its due time, no call before it, done after it."""
    account = rtq.add_account()
    at = _in(2)
    result = rtq.cli("retweet", account.account_id, "1", "--at", at)
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.strip()
    status = rtq.status(job_id)
    assert status.state == "deferred" and status.due_at is not None
    assert abs(datetime.fromisoformat(status.due_at) - datetime.fromisoformat(at)) \
        < timedelta(milliseconds=2)
    assert rtq.x_calls(account.account_id) == []
    (done,) = rtq.wait_terminal(job_id, timeout=10)
    call_time = datetime.fromisoformat(rtq.x_calls(account.account_id)[0]["time"])
    assert done.state == "succeeded" and call_time >= datetime.fromisoformat(at)


@pytest.mark.usefixtures("worker")
def test_undo_after_retweets_now_and_undoes_later(rtq: Rtq) -> None:
    """`--undo-after 2s`: two job ids; retweeted now, not retweeted once the undo ran."""
    account = rtq.add_account()
    result = rtq.cli("retweet", account.account_id, "2", "--undo-after", "2s")
    assert result.returncode == 0, result.stderr
    retweet_id, undo_id = result.stdout.split()
    assert rtq.wait_terminal(retweet_id)[0].state == "succeeded"
    assert _retweeted(rtq, account.account_id, "2")
    assert rtq.status(undo_id).state == "deferred"
    assert rtq.wait_terminal(undo_id, timeout=10)[0].state == "succeeded"
    assert not _retweeted(rtq, account.account_id, "2")


@pytest.mark.usefixtures("worker")
def test_a_later_intent_cancels_a_scheduled_one(rtq: Rtq) -> None:
    """An undo scheduled for later, then a retweet now: the undo is superseded, never runs."""
    account = rtq.add_account()
    scheduled = rtq.producer.enqueue("undo", account.account_id, "3", at=_in(60))
    now = rtq.producer.enqueue("retweet", account.account_id, "3")
    assert rtq.wait_terminal(now)[0].state == "succeeded"
    cancelled = rtq.status(scheduled)
    assert (cancelled.state, cancelled.reason) == ("superseded", f"superseded by job {now}")
    assert not rtq.redis.zscore("rtq:parked", scheduled)
    assert [c["action"] for c in rtq.x_calls(account.account_id)] == ["retweet"]


@pytest.mark.usefixtures("worker")
def test_the_python_producer_schedules_too(rtq: Rtq, monkeypatch: pytest.MonkeyPatch) -> None:
    """enqueue_retweet(at=..., undo_after=...) and enqueue_many with the same fields."""
    monkeypatch.setattr(producers, "_default", rtq.producer)
    account = rtq.add_account()
    boosted = producers.enqueue_retweet(account.account_id, 4, undo_after=timedelta(hours=24))
    assert rtq.wait_terminal(boosted)[0].state == "succeeded"
    ids = producers.enqueue_many([{"action": "retweet", "account_id": account.account_id,
                                   "tweet_id": "5", "at": _in(3600), "undo_after": "1h"}])
    assert [rtq.status(i).state for i in ids] == ["deferred", "deferred"]
    due = [datetime.fromisoformat(rtq.status(i).due_at or "") for i in ids]
    assert timedelta(minutes=59) < due[1] - due[0] < timedelta(minutes=61)


def test_bad_schedules_name_the_field(rtq: Rtq, tmp_path: Path) -> None:
    """A time without an offset, a zero duration, an undo with undo_after: clear errors."""
    account = rtq.add_account()
    naive = rtq.cli("retweet", account.account_id, "1", "--at", "2026-12-01T09:00:00")
    assert naive.returncode == 1 and naive.stderr.startswith("error: at: ")
    zero = rtq.cli("retweet", account.account_id, "1", "--undo-after", "0s")
    assert zero.returncode == 1 and "undo_after: must be positive" in zero.stderr
    far = rtq.cli("retweet", account.account_id, "1", "--at", "2099-01-01T00:00:00Z")
    assert far.returncode == 1 and "at: at most" in far.stderr
    path = tmp_path / "jobs.jsonl"
    path.write_text(json.dumps({"action": "undo", "account_id": account.account_id,
                                "tweet_id": "1", "undo_after": "1h"}) + "\n")
    undo = rtq.cli("enqueue", str(path))
    assert undo.returncode == 1 and "line 1: undo_after: only a retweet" in undo.stderr


def test_a_scheduled_job_survives_worker_and_redis_restarts(aof_deployment: Deployment) -> None:
    """Scheduled, then the only worker stops and Redis restarts: it still runs when due."""
    rtq = aof_deployment.rtq
    account = rtq.add_account()
    worker = aof_deployment.start_worker()
    job_id = rtq.producer.enqueue("retweet", account.account_id, "6", at=_in(4))
    worker.stop()
    aof_deployment.redis_server.restart()
    assert rtq.status(job_id).state == "deferred"
    aof_deployment.start_worker()
    assert rtq.wait_terminal(job_id, timeout=20)[0].state == "succeeded"
    assert _retweeted(rtq, account.account_id, "6")
