"""`rtq stats [--json]`: the queue, running, parked and dead-lettered jobs, workers, each
account's state and budgets, held apps and the circuit breaker, read from Redis after real jobs
ran on a real worker (the holds written as the worker's scripts write them: tests/holding.py)."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime

from producers import JobRequest, Producer
from tests.holding import holding
from tests.support import Account, Rtq, wait_for
from worker.core import clock
from worker.core.settings import Settings
from worker.embedded.servers import WorkerProcess


def stats(rtq: Rtq, *args: str, env: dict[str, str] | None = None) -> str:
    result = rtq.cli("stats", *args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def run_mixed_jobs(rtq: Rtq) -> tuple[Account, Account]:
    """One success and one 404 for an active account; for a revoked one, a 401 and then a job
    held until the account is re-authorized."""
    active, revoked = rtq.add_account(), rtq.add_account()
    rtq.admin.configure(missing_tweets=["2"])
    rtq.admin.revoke(revoked.account_id)
    rtq.wait_terminal(rtq.producer.enqueue("retweet", active.account_id, "1"),
                      rtq.producer.enqueue("retweet", active.account_id, "2"),
                      rtq.producer.enqueue("retweet", revoked.account_id, "3"))
    rtq.wait_state(rtq.producer.enqueue("retweet", revoked.account_id, "4"), "deferred")
    return active, revoked


def test_stats_json_reports_every_section(rtq: Rtq, worker: WorkerProcess) -> None:
    """Dead letters by reason, held jobs, workers, outcomes, calls and per-account state and
    budgets, as one JSON object on one line."""
    # Given a success, two dead letters and a held job
    active, revoked = run_mixed_jobs(rtq)
    me = f"{worker.name}@{socket.gethostname()}"

    # When an operator asks (once the worker's heartbeat, deleted by the test set-up, is back)
    def stats_with_worker() -> str | None:
        output = stats(rtq, "--json")
        return output if me in output else None

    output = wait_for(stats_with_worker, 10, "the worker's heartbeat")
    # Then
    assert len(output.splitlines()) == 1
    document = json.loads(output)
    assert document["queue"] == 0 and document["running"] == 0
    assert document["parked"] == {"retry": 0, "rate_window": 0, "reauthorization": 1}
    dead = document["dead_letters"]
    assert dead["total"] == 2
    assert dead["by_reason"] == {"not_found": 1, "unauthorized": 1}
    assert datetime.fromisoformat(dead["oldest_failed_at"]) <= datetime.now(UTC)
    assert [w["name"] for w in document["workers"]] == [me]
    assert document["outcomes"] == {"succeeded": 1, "dead": 2, "deferred": 1}
    assert document["calls"] == {"200": 1, "404": 1, "401": 1}
    accounts = {a["account_id"]: a for a in document["accounts"]}
    assert accounts[revoked.account_id]["state"] == "needs_reauth"
    assert accounts[revoked.account_id]["held_jobs"] == 1
    assert accounts[active.account_id]["state"] == "active"
    last_answer = [c for c in rtq.x_calls(active.account_id) if c["rate_remaining"] is not None][-1]
    assert accounts[active.account_id]["budgets"]["retweet"]["remaining"] == \
        last_answer["rate_remaining"]
    # And no credential is shown
    for account in (active, revoked):
        for name in ("access_token", "access_token_secret", "consumer_secret"):
            assert account.credentials[name] not in output


def test_stats_text_shows_counts_and_one_row_per_account(rtq: Rtq, worker: WorkerProcess
                                                         ) -> None:
    """The text form has a row per measure and a table of accounts with state and budgets."""
    active, revoked = run_mixed_jobs(rtq)
    lines = stats(rtq).splitlines()
    rows = {line.split()[0]: line for line in lines if line.strip()}
    assert "reauthorization: 1" in rows["parked"]
    assert "not_found: 1" in rows["dead"] and "unauthorized: 1" in rows["dead"]
    assert rows[revoked.account_id].split()[1] == "needs_reauth"
    active_row = rows[active.account_id].split()
    assert active_row[1] == "active"
    remaining = [c for c in rtq.x_calls(active.account_id)
                 if c["rate_remaining"] is not None][-1]["rate_remaining"]
    assert active_row[3].startswith(f"{remaining}/")


def test_stats_count_jobs_waiting_in_the_queue(rtq: Rtq) -> None:
    """Jobs in a queue no worker consumes are the queue depth."""
    env = {**rtq.env, "RTQ_QUEUE": "rtq-stats-idle"}
    account = rtq.add_account()
    Producer(rtq.redis, Settings.from_env(env)).enqueue_many(
        [JobRequest.create("undo", account.account_id, str(t)) for t in range(4)])
    try:
        assert json.loads(stats(rtq, "--json", env=env))["queue"] == 4
    finally:
        rtq.redis.delete("rtq-stats-idle")


def test_stats_fail_clearly_when_redis_is_unreachable(rtq: Rtq) -> None:
    """An unreachable Redis is one error line naming it (without its password), exit 1."""
    env = {**rtq.env, "RTQ_REDIS_URL": "redis://:hunter2pass@127.0.0.1:1/0"}
    result = rtq.cli("stats", env=env)
    assert result.returncode == 1
    assert "Redis at" in result.stderr and "unreachable" in result.stderr
    assert "hunter2pass" not in result.stderr


def test_stats_report_account_states_held_apps_and_the_breaker(rtq: Rtq) -> None:
    """Accounts by state, each held app's reason and held jobs, and the breaker's state with
    its end, in JSON and text; with nothing held, zeros and a closed breaker."""
    quiet = json.loads(stats(rtq, "--json"))
    assert quiet["accounts_by_state"] == {"active": 0, "needs_reauth": 0, "locked": 0,
                                          "suspended": 0}
    assert quiet["apps"] == {"held": 0, "held_jobs": 0, "by_reason": {
        "credits_depleted": 0, "usage_capped": 0, "app_forbidden": 0}, "held_apps": []}
    assert quiet["breaker"] == {"state": "closed", "until": None, "opened_at": None}
    with holding(rtq) as held:
        # Given one account of each state, an app out of credits with 2 held jobs, and an open
        # breaker
        active, reauth, locked, suspended = (rtq.add_account() for _ in range(4))
        rtq.accounts.mark_needs_reauth(reauth.account_id)
        held.hold_account(locked.account_id, "locked", "Your account is temporarily locked")
        held.hold_account(suspended.account_id, "suspended", "User is suspended")
        held.hold_app("0123456789abcdef", "credits_depleted", "no credits",
                      messages=held.jobs(active.account_id, range(1, 3)))
        until_ms = clock.ms(clock.now()) + 15_000
        held.open_breaker(until_ms=until_ms)
        # When an operator asks
        document = json.loads(stats(rtq, "--json"))
        text = stats(rtq).splitlines()
    # Then
    assert document["accounts_by_state"] == {"active": 1, "needs_reauth": 1, "locked": 1,
                                             "suspended": 1}
    apps = document["apps"]
    assert (apps["held"], apps["held_jobs"]) == (1, 2)
    assert apps["by_reason"] == {"credits_depleted": 1, "usage_capped": 0, "app_forbidden": 0}
    (app,) = apps["held_apps"]
    assert (app["app"], app["reason"], app["held_jobs"], app["until"]) == (
        "0123456789abcdef", "credits_depleted", 2, None)
    breaker = document["breaker"]
    assert (breaker["state"], breaker["until"]) == ("open", clock.iso_ms(until_ms))
    accounts = {a["account_id"]: a for a in document["accounts"]}
    assert accounts[locked.account_id]["detail"] == "Your account is temporarily locked"
    # ... the sections that were there before are unchanged
    assert set(document) >= {"taken_at", "queue", "running", "parked", "dead_letters",
                             "workers", "outcomes", "calls", "accounts"}
    assert document["parked"] == {"retry": 0, "rate_window": 0, "reauthorization": 0}
    rows = {line.split()[0]: line for line in text if line.strip()}
    assert rows["accounts"].split(None, 1)[1] == \
        "4 (active: 1, needs_reauth: 1, locked: 1, suspended: 1)"
    assert rows["apps"].split(None, 2)[2] == "1 (0123456789abcdef: credits_depleted, 2 job(s))"
    assert rows["breaker"].split(None, 1)[1] == f"open until {clock.iso_ms(until_ms)}"
    assert rows[suspended.account_id].split()[1] == "suspended"
