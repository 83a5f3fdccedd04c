"""Conditions above one job, end to end with real workers and the emulator (issue 14): an app
out of credits, over its usage cap or without the permissions it needs, and a locked or
suspended account, hold every job they concern (no attempt spent, no dead letter) after a
handful of calls, and release them all; an undo of a deleted tweet has reached its goal."""

from __future__ import annotations

import secrets
from collections import Counter
from pathlib import Path

import pytest

from fake_x import EmulatorAdmin
from producers import JobRequest
from tests.support import Account, Deployment, Rtq, wait_for
from worker.core.keys import Keys
from worker.domain.accounts import AccountStore, app_id, fernet_for
from worker.domain.holds import Holds
from worker.domain.parking import Mover
from worker.x_api.credentials import Credentials

pytestmark = pytest.mark.usefixtures("worker")


def app_accounts(rtq: Rtq, count: int) -> tuple[str, list[Account]]:
    """`count` accounts of one X app (a consumer key of their own), registered with the
    emulator and added to rtq; returns the app's consumer key and the accounts."""
    consumer_key, consumer_secret = f"ck{secrets.token_hex(8)}", f"cs{secrets.token_hex(20)}"
    accounts = []
    for _ in range(count):
        user_id = str(10**12 + secrets.randbelow(10**12))
        document = {"consumer_key": consumer_key, "consumer_secret": consumer_secret,
                    "access_token": f"{user_id}-{secrets.token_hex(12)}",
                    "access_token_secret": secrets.token_hex(20)}
        rtq.admin.register_account(**document)
        rtq.accounts.add(Credentials(**document))
        accounts.append(Account(user_id, document))
    return consumer_key, accounts


def holds(rtq: Rtq) -> Holds:
    return Holds(rtq.redis, Keys(rtq.settings.key_prefix), rtq.settings.queue)


def enqueue_spread(rtq: Rtq, accounts: list[Account], jobs: int, first_tweet: int = 1
                   ) -> list[str]:
    requests = [JobRequest.create("retweet", accounts[i % len(accounts)].account_id,
                                 str(first_tweet + i)) for i in range(jobs)]
    return rtq.producer.enqueue_many(requests)


def waiting_indexes(rtq: Rtq) -> dict[str, int]:
    """How many jobs each wait index (Keys.age) holds; empty once every job has finished."""
    keys = Keys(rtq.settings.key_prefix)
    return {where: rtq.redis.zcard(keys.age(where)) for where in
            ("retry", "scheduled", "rate_window", "held_account", "held_app")}


NO_WAIT = dict.fromkeys(("retry", "scheduled", "rate_window", "held_account", "held_app"), 0)


def calls_with_status(rtq: Rtq, status: int) -> int:
    return sum(1 for call in rtq.admin.calls() if call["status"] == status
               and call["action"] in ("retweet", "undo"))


def test_an_app_out_of_credits_holds_its_jobs_after_a_handful_of_calls(rtq: Rtq) -> None:
    """1,000 jobs of 50 accounts of one app that X answers 402: a few calls, every job held
    (no attempt spent, no dead letter), another app unaffected; released, all 1,000 succeed."""
    consumer_key, accounts = app_accounts(rtq, 50)
    app = app_id(consumer_key)
    rtq.admin.add_condition("credits_depleted", consumer_key=consumer_key)
    other = rtq.add_account()
    # When 1,000 jobs are enqueued while the app has no credits
    job_ids = enqueue_spread(rtq, accounts, 1000)
    wait_for(lambda: rtq.redis.llen(Keys().app_held(app)) == 1000, 60,
             "every job of the app to be held")
    # Then only the first few calls reached X, and nothing was dead-lettered
    calls_402 = calls_with_status(rtq, 402)
    print(f"\n[figure] credits depleted: {calls_402} call(s) for 1,000 jobs of 50 accounts")
    assert 1 <= calls_402 <= 5, calls_402
    assert rtq.dead_letters.list() == []
    statuses = rtq.jobs.get_many(job_ids)
    assert Counter(s.state for s in statuses if s) == {"deferred": 1000}
    # No job spent an attempt (`charged` counts the failures that use up RTQ_MAX_ATTEMPTS)
    charged = {rtq.redis.hget(Keys().job(job_id), "charged") for job_id in job_ids}
    assert charged <= {None, "0"}, charged
    assert all(s is not None and "credits_depleted" in (s.detail or "") for s in statuses)
    (hold,) = holds(rtq).apps()
    assert (hold.app, hold.reason, hold.until, hold.held_jobs) == (
        app, "credits_depleted", None, 1000)
    assert waiting_indexes(rtq)["held_app"] == 1000
    # and another app's account keeps working
    (other_status,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", other.account_id, "7"))
    assert other_status.state == "succeeded"
    # When billing is fixed and the operator releases the app
    rtq.admin.clear_conditions()
    released = rtq.cli("apps", "release", app)
    assert released.returncode == 0, released.stderr
    assert "1000" in released.stdout
    # Then every job finishes, each with one more call
    done = rtq.wait_terminal(*job_ids, timeout=120)
    assert Counter(s.state for s in done) == {"succeeded": 1000}
    assert calls_with_status(rtq, 402) == calls_402
    assert waiting_indexes(rtq) == NO_WAIT
    assert holds(rtq).apps() == []


def test_a_usage_capped_app_waits_for_the_end_of_its_period(rtq: Rtq) -> None:
    """429 UsageCapExceeded (Monthly) with plenty left in the 15-minute window: the app is held
    until the month ends, not retried window after window; at the period's end it is released
    by itself and its jobs finish."""
    consumer_key, accounts = app_accounts(rtq, 3)
    app = app_id(consumer_key)
    rtq.admin.add_condition("usage_capped", consumer_key=consumer_key, period="Monthly")
    job_ids = enqueue_spread(rtq, accounts, 30)
    wait_for(lambda: rtq.redis.llen(Keys().app_held(app)) == 30, 30, "the app's jobs held")
    print(f"\n[figure] usage cap: {calls_with_status(rtq, 429)} call(s) for 30 jobs")
    assert 1 <= calls_with_status(rtq, 429) <= 5
    (hold,) = holds(rtq).apps()
    assert hold.reason == "usage_capped" and hold.until is not None
    assert hold.until.endswith("T00:00:00.000+00:00") and hold.until[8:10] == "01"
    # When the month turns: every worker's mover releases ended holds (here a mover is run
    # with its clock at the period's end; a minute before it, nothing is released)
    rtq.admin.clear_conditions()
    end = rtq.redis.zscore(Keys().app_holds, app)
    assert end is not None
    mover = Mover(rtq.redis, Keys(), rtq.settings.queue_key)
    mover.move_due(now=end / 1000 - 60)
    assert rtq.redis.llen(Keys().app_held(app)) == 30
    assert mover.move_due(now=end / 1000 + 1) >= 30
    assert rtq.redis.llen(Keys().app_held(app)) == 0 and holds(rtq).apps() == []
    done = rtq.wait_terminal(*job_ids, timeout=60)
    assert {s.state for s in done} == {"succeeded"}
    assert rtq.dead_letters.list() == []


@pytest.mark.parametrize("reason", ["oauth1-permissions", "client-not-enrolled",
                                    "unsupported-authentication", "453"])
def test_an_app_without_the_permissions_it_needs_is_held_with_what_to_change(
        rtq: Rtq, reason: str) -> None:
    """App-permission 403s hold the app instead of dead-lettering each job; the hold keeps X's
    explanation and what to change."""
    consumer_key, accounts = app_accounts(rtq, 4)
    app = app_id(consumer_key)
    rtq.admin.add_condition("app_forbidden", consumer_key=consumer_key, reason=reason)
    job_ids = enqueue_spread(rtq, accounts, 40)
    wait_for(lambda: rtq.redis.llen(Keys().app_held(app)) == 40, 30, "the app's jobs held")
    print(f"\n[figure] app_forbidden {reason}: {calls_with_status(rtq, 403)} call(s), 40 jobs")
    assert 1 <= calls_with_status(rtq, 403) <= 5
    assert rtq.dead_letters.list() == []
    (hold,) = holds(rtq).apps()
    assert hold.reason == "app_forbidden" and hold.until is None
    assert "(" in hold.detail and len(hold.detail) > 40  # X's words, then what to change
    rtq.admin.clear_conditions()
    assert holds(rtq).release_app(app) == (40, True)
    assert {s.state for s in rtq.wait_terminal(*job_ids, timeout=60)} == {"succeeded"}


@pytest.mark.parametrize(("kind", "form", "state", "release"), [
    ("account_locked", "legacy", "locked", "command"),
    ("account_suspended", "v2", "suspended", "command"),
    ("account_locked", "v2", "locked", "new credentials"),
])
def test_a_locked_or_suspended_account_holds_its_jobs_until_released(
        rtq: Rtq, kind: str, form: str, state: str, release: str) -> None:
    """30 jobs of a locked (or suspended) account: a few calls, the account marked, its jobs
    held; another account of the same app keeps working; a tweet-level 403 stays a dead letter;
    released, the held jobs finish."""
    _, (held_account, other) = app_accounts(rtq, 2)
    rtq.admin.add_condition(kind, user_id=held_account.account_id, form=form)
    job_ids = enqueue_spread(rtq, [held_account], 30)
    wait_for(lambda: rtq.redis.llen(Keys().held(held_account.account_id)) == 30, 30,
             "the account's jobs held")
    refused = len([c for c in rtq.x_calls(held_account.account_id) if c["status"] == 403])
    print(f"\n[figure] {state} account: {refused} call(s) for 30 jobs")
    assert 1 <= refused <= 5
    assert rtq.redis.hget(Keys().account_meta(held_account.account_id), "state") == state
    info = {a.account_id: a for a in rtq.accounts.list()}[held_account.account_id]
    assert info.state == state and info.held == 30 and info.detail
    assert rtq.dead_letters.list() == []
    # Another account of the same app is not held
    (fine,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", other.account_id, "99"))
    assert fine.state == "succeeded"
    # A tweet-level 403 (a protected author) is still that job's own dead letter
    rtq.admin.configure(protected_tweets=["98"])
    (protected,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", other.account_id, "98"))
    assert (protected.state, protected.reason) == ("dead", "forbidden")
    # When the owner has unlocked the account and the operator releases it
    rtq.admin.clear_conditions()
    if release == "command":
        released = rtq.cli("accounts", "release", held_account.account_id)
        assert released.returncode == 0, released.stderr
        assert "30 held job(s)" in released.stdout
    else:  # `rtq accounts add` with the account's (new) credentials releases it too
        store = AccountStore(rtq.redis, Keys(), fernet_for(rtq.settings.secret_keys),
                             queue_key=rtq.settings.queue_key)
        store.add(Credentials(**held_account.credentials))
    done = rtq.wait_terminal(*job_ids, timeout=60)
    assert {s.state for s in done} == {"succeeded"}
    assert rtq.redis.hget(Keys().account_meta(held_account.account_id), "state") == "active"
    assert waiting_indexes(rtq) == NO_WAIT


def test_an_undo_of_a_deleted_tweet_succeeds_and_a_retweet_of_it_is_a_dead_letter(
        rtq: Rtq) -> None:
    """The author deletes a retweeted tweet: the undo has reached its goal (known state 0,
    succeeded), as an --undo-after would; a retweet of a deleted tweet stays not_found."""
    account = rtq.add_account()
    (retweeted,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", account.account_id, "500"))
    assert retweeted.state == "succeeded"
    rtq.admin.add_condition("tweet_deleted", tweet_id="500")
    rtq.admin.add_condition("tweet_deleted", tweet_id="501")
    (undone,) = rtq.wait_terminal(rtq.producer.enqueue("undo", account.account_id, "500"))
    assert (undone.state, undone.history[-1]["http_status"]) == ("succeeded", 404)
    assert rtq.redis.get(Keys().known(account.account_id, "500")) == "0"
    (missing,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", account.account_id, "501"))
    assert (missing.state, missing.reason) == ("dead", "not_found")
    assert [entry.reason for entry in rtq.dead_letters.list()] == ["not_found"]


def test_an_undo_after_of_a_tweet_deleted_meanwhile_succeeds(rtq: Rtq) -> None:
    """retweet --undo-after, and the author deletes the tweet before the undo is due: the undo
    answers 404 and counts as done."""
    account = rtq.add_account()
    requests = JobRequest.create("retweet", account.account_id, "600").with_undo_after("1s")
    retweet_id, undo_id = rtq.producer.enqueue_many(requests)
    (retweeted,) = rtq.wait_terminal(retweet_id)
    assert retweeted.state == "succeeded"
    rtq.admin.add_condition("tweet_deleted", tweet_id="600")
    (undone,) = rtq.wait_terminal(undo_id, timeout=20)
    assert undone.state == "succeeded" and rtq.dead_letters.list() == []
    assert [c["status"] for c in rtq.x_calls(account.account_id)] == [200, 404]


def test_an_x_outage_opens_the_shared_breaker_and_no_job_is_lost(
        rtq_env: dict[str, str], admin: EmulatorAdmin, tmp_path: Path) -> None:
    """X answers 503 to everything: after a few failed calls the breaker opens for every
    worker, deliveries park without spending attempts, probes after each cool-down find X
    still down, and when X is back a probe closes it and all 200 jobs succeed; no dead letter."""
    deployment = Deployment(rtq_env, admin, str(tmp_path), RTQ_BREAKER_MIN_CALLS="5",
                            RTQ_BREAKER_WINDOW="5", RTQ_BREAKER_COOLDOWN="2",
                            RTQ_BREAKER_PROBES="2")
    try:
        d = deployment.rtq
        deployment.start_worker(2)
        deployment.start_worker(2)
        breaker = Holds(d.redis, Keys(), d.settings.queue_key).breaker
        accounts = [d.add_account() for _ in range(10)]
        admin.add_condition("outage", status=503)
        job_ids = enqueue_spread(d, accounts, 200)
        wait_for(lambda: breaker().state == "open", 20, "the breaker to open")
        first_opened = breaker().opened_at
        # Let at least one cool-down pass: its probes meet the outage and reopen the breaker
        wait_for(lambda: breaker().state == "open" and breaker().opened_at != first_opened,
                 20, "probes to find X still down")
        outage_calls = calls_with_status(d, 503)
        print(f"\n[figure] outage: {outage_calls} call(s) over two cool-downs, 200 jobs")
        # Calls while X was down: the failures that opened it, those already in flight (4
        # worker slots), and the probes of each cool-down (2 per cool-down of 2 s).
        assert outage_calls <= 5 + 4 + 2 * 4, outage_calls
        assert d.dead_letters.list() == []
        # When X is back
        admin.clear_conditions()
        done = d.wait_terminal(*job_ids, timeout=90)
        assert Counter(s.state for s in done) == {"succeeded": 200}
        assert breaker().state == "closed"
        assert d.dead_letters.list() == []
        assert waiting_indexes(d) == NO_WAIT
        logs = "".join(Path(w.log_path).read_text() for w in deployment.workers)
        assert logs.count("circuit breaker opened") == 1
        assert logs.count("circuit breaker closed") == 1
    finally:
        deployment.close()
