"""Conditions above one job, end to end with real workers and the emulator (issue 14): an app
out of credits, over its usage cap or without the permissions it needs, and a locked or
suspended account, hold every job they concern (no attempt spent, no dead letter) after a
handful of calls, and release them all; an undo of a deleted tweet has reached its goal."""

from __future__ import annotations

import secrets
from collections import Counter

import pytest

from producers import JobRequest
from tests.support import Account, Rtq, wait_for
from worker.core.keys import Keys
from worker.domain.accounts import app_id
from worker.domain.holds import Holds
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
    assert 1 <= calls_with_status(rtq, 429) <= 5
    (hold,) = holds(rtq).apps()
    assert hold.reason == "usage_capped" and hold.until is not None
    assert hold.until.endswith("T00:00:00.000+00:00") and hold.until[8:10] == "01"
    # When the month turns (the mover releases ended holds; here its clock is moved on)
    rtq.admin.clear_conditions()
    end = rtq.redis.zscore(Keys().app_holds, app)
    assert end is not None
    assert holds(rtq).release_ended(now=end / 1000 + 1) == 30
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
    assert 1 <= calls_with_status(rtq, 403) <= 5
    assert rtq.dead_letters.list() == []
    (hold,) = holds(rtq).apps()
    assert hold.reason == "app_forbidden" and hold.until is None
    assert "(" in hold.detail and len(hold.detail) > 40  # X's words, then what to change
    rtq.admin.clear_conditions()
    assert holds(rtq).release_app(app) == (40, True)
    assert {s.state for s in rtq.wait_terminal(*job_ids, timeout=60)} == {"succeeded"}
