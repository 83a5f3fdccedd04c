"""Each class of X's answers reaches its outcome: retried, deferred, or dead-lettered."""

from __future__ import annotations

from pathlib import Path

import pytest

from producers import Producer
from tests.support import Rtq, signed_session, wait_for
from worker.core.keys import Keys
from worker.core.settings import Settings
from worker.domain.accounts import AccountStore, app_id, fernet_for
from worker.domain.jobs import JobStore
from worker.embedded.servers import WorkerProcess, free_port
from worker.x_api.credentials import Credentials

pytestmark = pytest.mark.usefixtures("worker")


def test_server_errors_are_retried_with_backoff_until_success(rtq: Rtq) -> None:
    """Two 503s, then success: three calls, succeeded, the failures in the history."""
    account = rtq.add_account()
    rtq.admin.script([{"user_id": account.account_id, "responses": [{"status": 503},
                                                                    {"status": 502}]}])
    (status,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", account.account_id, "1"))
    assert status.state == "succeeded" and status.attempts == 3
    assert [h["outcome"] for h in status.history] == ["error", "error", "succeeded"]
    assert [h["http_status"] for h in status.history] == [503, 502, 200]
    assert rtq.admin.state(account.account_id) == {account.account_id: ["1"]}


def test_server_errors_beyond_max_attempts_are_dead_lettered(rtq: Rtq) -> None:
    """RTQ_MAX_ATTEMPTS (3 here) failures: dead, retries_exhausted, with every attempt kept."""
    account = rtq.add_account()
    rtq.admin.script([{"user_id": account.account_id, "responses": [{"status": 503}] * 5}])
    job_id = rtq.producer.enqueue("retweet", account.account_id, "2")
    (status,) = rtq.wait_terminal(job_id)
    assert (status.state, status.reason, status.attempts) == ("dead", "retries_exhausted", 3)
    (entry,) = rtq.dead_letters.list()
    assert entry.job_id == job_id and entry.reason == "retries_exhausted"
    assert entry.http_status == 503 and entry.attempts == 3
    assert len(entry.history) == 3 and all(h["worker"] for h in entry.history)
    assert len(rtq.x_calls(account.account_id)) == 3


def test_a_hung_call_times_out_and_is_retried(rtq: Rtq) -> None:
    """X holds the first call past the read timeout: retried, then succeeded."""
    account = rtq.add_account()
    rtq.admin.script([{"user_id": account.account_id,
                       "responses": [{"status": 200, "hang_seconds": 4}]}])
    (status,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", account.account_id, "3"))
    assert status.state == "succeeded" and status.attempts == 2
    assert status.history[0]["outcome"] == "error" and status.history[0]["http_status"] is None
    assert "no answer from X" in status.history[0]["detail"]


@pytest.mark.parametrize(
    ("setup", "reason", "http_status", "detail_part"),
    [
        ("script400", "invalid_request", 400, "invalid"),
        ("revoked", "unauthorized", 401, "Unauthorized"),
        ("protected", "forbidden", 403, ""),
        ("missing", "not_found", 404, "Could not find"),
    ],
)
def test_permanent_errors_are_dead_lettered_at_once(
    rtq: Rtq, setup: str, reason: str, http_status: int, detail_part: str
) -> None:
    """400/401/403/404: one call, dead with X's status and detail, nothing retried."""
    account = rtq.add_account()
    tweet = "5"
    if setup == "script400":
        rtq.admin.script([{"user_id": account.account_id, "responses": [{"status": 400}]}])
    elif setup == "revoked":
        rtq.admin.revoke(account.account_id)
    elif setup == "protected":
        rtq.admin.configure(protected_tweets=[tweet])
    elif setup == "missing":
        rtq.admin.configure(missing_tweets=[tweet])
    job_id = rtq.producer.enqueue("retweet", account.account_id, tweet)
    (status,) = rtq.wait_terminal(job_id)
    assert (status.state, status.reason, status.attempts) == ("dead", reason, 1)
    (entry,) = rtq.dead_letters.list()
    assert (entry.reason, entry.http_status, entry.job_id) == (reason, http_status, job_id)
    assert detail_part in entry.detail
    assert len(rtq.admin.calls(user_id=account.account_id)) == 1


def test_a_read_only_app_is_held_not_dead_lettered(rtq: Rtq) -> None:
    """403 oauth1-permissions concerns the app: one call, the job waits (deferred, no dead
    letter) with X's words and what to change (read+write, new tokens)."""
    account = rtq.add_account()
    rtq.admin.configure(read_only_consumers=[account.credentials["consumer_key"]])
    job_id = rtq.producer.enqueue("retweet", account.account_id, "5")
    wait_for(lambda: rtq.redis.llen(Keys().app_held(app_id(account.credentials["consumer_key"])))
             == 1, 10, "the job held with its app")
    status = rtq.status(job_id)
    assert status.state == "deferred" and "read+write" in (status.detail or "")
    assert rtq.dead_letters.list() == []
    assert len(rtq.admin.calls(user_id=account.account_id)) == 1


def test_a_429_defers_to_the_reset_without_spending_an_attempt(rtq: Rtq) -> None:
    """Something outside rtq spent the window: the 429 defers the job to x-rate-limit-reset,
    spends no attempt, and the job then succeeds."""
    # Given a window of one call per 2 seconds, spent by another client of the same account
    rtq.admin.configure(rate_limit=1, rate_window=2)
    account = rtq.add_account()
    outside = signed_session(rtq.admin.base_url, account.credentials)
    assert outside.post(f"{rtq.admin.base_url}/2/users/{account.account_id}/retweets",
                        json={"tweet_id": "10"}, timeout=5).status_code == 200
    # When rtq retweets in the same window
    job_id = rtq.producer.enqueue("retweet", account.account_id, "11")
    deferred = rtq.wait_state(job_id, "deferred", timeout=5)
    # Then it waits (with a due time) and then succeeds
    assert deferred.due_at is not None and deferred.reason is None
    (status,) = rtq.wait_terminal(job_id, timeout=10)
    assert status.state == "succeeded"
    assert [h["outcome"] for h in status.history] == ["rate_limited", "succeeded"]
    assert [c["status"] for c in rtq.x_calls(account.account_id)] == [200, 429, 200]


def test_a_budget_learned_from_x_prevents_the_429(rtq: Rtq) -> None:
    """After X's headers say the window is spent, the next job waits without calling X."""
    rtq.admin.configure(rate_limit=1, rate_window=2)
    account = rtq.add_account()
    first = rtq.producer.enqueue("retweet", account.account_id, "12")
    rtq.wait_terminal(first)
    job_id = rtq.producer.enqueue("retweet", account.account_id, "13")
    deferred = rtq.wait_state(job_id, "deferred", timeout=5)
    assert deferred.due_at is not None
    (status,) = rtq.wait_terminal(job_id, timeout=10)
    assert status.state == "succeeded" and status.attempts == 1
    assert [c["status"] for c in rtq.x_calls(account.account_id)] == [200, 200]


@pytest.mark.parametrize("mode", ["200", "403", "legacy327"])
def test_already_retweeted_answers_count_as_success(rtq: Rtq, mode: str) -> None:
    """200 retweeted:true, 403 "already retweeted" and legacy code 327 all mean retweeted."""
    account = rtq.add_account()
    rtq.admin.configure(already_retweeted=mode)
    rtq.admin.set_state(account.account_id, "20", True)
    (first,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", account.account_id, "20"))
    assert first.state == "succeeded" and first.attempts == 1
    (second,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", account.account_id, "20"))
    assert second.state == "skipped"
    assert len(rtq.x_calls(account.account_id)) == 1
    assert rtq.dead_letters.count() == 0


def test_connection_refused_is_retried_then_exhausted(
    rtq: Rtq, rtq_env: dict[str, str], tmp_path: Path
) -> None:
    """X unreachable: every attempt is a transport error; dead as retries_exhausted, no status."""
    # Given a separate deployment (own queue and key prefix) whose X URL has no listener
    env = dict(rtq_env, RTQ_X_API_URL=f"http://127.0.0.1:{free_port()}",
               RTQ_KEY_PREFIX="rtqx", RTQ_QUEUE="rtqx")
    settings = Settings.from_env(env)
    keys = Keys(settings.key_prefix)
    AccountStore(rtq.redis, keys, fernet_for(settings.secret_keys)).add(
        Credentials("123-abc", "s", "ck", "cs"))
    jobs = JobStore(rtq.redis, keys)
    try:
        with WorkerProcess(env, log_path=str(tmp_path / "w.log"),
                           extra_args=("--concurrency", "1")):
            # When a job is enqueued there
            job_id = Producer(rtq.redis, settings).enqueue("retweet", "123", "30")
            status = wait_for(lambda: (s := jobs.get(job_id)) is not None and s.terminal and s,
                              20, "the job to finish")
            delivered = rtq.redis.hget(keys.job(job_id), "delivered")
    finally:
        for key in rtq.redis.scan_iter("rtqx:*"):
            rtq.redis.delete(key)
    # Then every attempt failed without an answer, and the job is dead
    assert (status.state, status.reason, status.http_status) == ("dead", "retries_exhausted", None)
    assert status.attempts == 3
    # and the worker's main process noted its delivery under this prefix's keys (deliver.lua
    # runs in kombu's MULTI, whose client adds kombu's key prefix to an EVALSHA's first key)
    assert delivered == "1"
    assert "could not connect" in status.history[-1]["detail"]
