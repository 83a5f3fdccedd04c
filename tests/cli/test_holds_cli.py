"""What operators see of holds and do about them, through the real `rtq` command: `rtq apps
list` / `release`, `rtq accounts release`, the states and held detail `rtq accounts list` shows,
and a held job's `rtq status`. The hold states are written as the worker's scripts write them
(tests/holding.py); X's answers that create them are tested in tests/domain/test_holds.py."""

from __future__ import annotations

import json

from tests.holding import Holding, holding
from tests.support import Rtq
from worker.core import clock
from worker.domain.accounts import app_id

CREDITS = "Your enrolled account does not have any credits (buy credits in the developer portal)"
PERMISSIONS = "Your app is not permitted to write (set it to Read and Write, then re-authorize)"


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def app_of(rtq: Rtq, account_id: str) -> str:
    app = rtq.redis.hget(f"rtq:account:{account_id}", "app")
    assert app is not None
    return str(app)


def two_held_apps(rtq: Rtq, held: Holding) -> tuple[str, str, int, list[str]]:
    """An app out of credits (3 held jobs, until released) and one over its usage cap (no job
    yet, until the end of its period)."""
    account = rtq.add_account()
    credits_app, capped_app = app_of(rtq, account.account_id), app_id("another-consumer-key")
    until_ms = clock.ms(clock.now()) + 86_400_000
    job_ids = held.hold_app(credits_app, "credits_depleted", CREDITS,
                            messages=held.jobs(account.account_id, range(1, 4)))
    held.hold_app(capped_app, "usage_capped", "Usage cap exceeded: Monthly", until_ms=until_ms,
                  http_status=429)
    return credits_app, capped_app, until_ms, job_ids


def test_apps_list_shows_each_held_app_with_why_since_until_and_held_jobs(rtq: Rtq) -> None:
    """One table row per held app (the soonest to end first); --json one object per app."""
    with holding(rtq) as held:
        credits_app, capped_app, until_ms, _ = two_held_apps(rtq, held)
        result = rtq.cli("apps", "list", env=held.env)
        assert result.returncode == 0, result.stderr
        header, *rows = result.stdout.splitlines()
        assert header.split() == ["APP", "REASON", "SINCE", "UNTIL", "HELD_JOBS", "DETAIL"]
        assert [row.split()[:2] for row in rows] == [[capped_app, "usage_capped"],
                                                    [credits_app, "credits_depleted"]]
        assert rows[0].split()[3:5] == [clock.iso_ms(until_ms), "0"]
        assert rows[1].split()[3:6] == ["until", "released", "3"]
        assert rows[1].endswith(CREDITS)
        listed = json_lines(rtq.cli("apps", "list", "--json", env=held.env).stdout)
        assert [(a["app"], a["state"], a["reason"], a["held_jobs"], a["default"])
                for a in listed] == [(capped_app, "held", "usage_capped", 0, False),
                                     (credits_app, "held", "credits_depleted", 3, False)]
        assert listed[1]["until"] is None and listed[1]["detail"] == CREDITS
        assert listed[0]["until"] == clock.iso_ms(until_ms)
        assert str(listed[1]["since"]).endswith("+00:00")


def test_apps_release_puts_the_held_jobs_back_in_the_queue(rtq: Rtq) -> None:
    """Releasing an app prints how many jobs went back; they are queued again, in the released
    lane, and the app is no longer listed."""
    with holding(rtq) as held:
        credits_app, capped_app, _, job_ids = two_held_apps(rtq, held)
        result = rtq.cli("apps", "release", credits_app.upper(), env=held.env)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"app {credits_app}: released, 3 held job(s) back in the queue\n"
        assert held.released() == 3
        assert {s.state for s in rtq.jobs.get_many(job_ids) if s} == {"queued"}
        listed = json_lines(rtq.cli("apps", "list", "--json", env=held.env).stdout)
        assert [a["app"] for a in listed] == [capped_app]


def test_apps_release_default_names_the_app_of_rtq_consumer_key(rtq: Rtq) -> None:
    """`default` is RTQ_CONSUMER_KEY's app (the literal "default" when none is set); the list
    marks it."""
    with holding(rtq) as held:
        account = rtq.add_account()
        env = {**held.env, "RTQ_CONSUMER_KEY": "deployment-key",
               "RTQ_CONSUMER_SECRET": "deployment-secret"}
        deployment_app = app_id("deployment-key")
        held.hold_app(deployment_app, "app_forbidden", PERMISSIONS, http_status=403,
                      messages=held.jobs(account.account_id, range(1, 3)))
        held.hold_app("default", "credits_depleted", CREDITS)
        table = rtq.cli("apps", "list", env=env).stdout
        assert f"{deployment_app} (default)  app_forbidden" in table
        listed = json_lines(rtq.cli("apps", "list", "--json", env=env).stdout)
        assert {a["app"]: a["default"] for a in listed} == {deployment_app: True,
                                                            "default": False}
        released = rtq.cli("apps", "release", "default", env=env)
        assert released.stdout == f"app {deployment_app}: released, 2 held job(s) back in the " \
            "queue\n"
        # Without RTQ_CONSUMER_KEY the deployment's app is named "default" itself.
        again = rtq.cli("apps", "release", "default", env=held.env)
        assert again.returncode == 0, again.stderr
        assert again.stdout == "app default: released, 0 held job(s) back in the queue\n"
        assert rtq.cli("apps", "list", "--json", env=env).stdout == ""


def test_apps_release_of_an_app_not_held_or_not_an_app_id_is_an_error(rtq: Rtq) -> None:
    """An app that is not held: exit 1; something that is not an app id: exit 2; each names
    the argument and prints nothing on stdout."""
    not_held = rtq.cli("apps", "release", "0123456789abcdef")
    assert (not_held.returncode, not_held.stdout) == (1, "")
    assert not_held.stderr == ("error: app: app 0123456789abcdef is not held (`rtq apps list` "
                               "shows the held apps)\n")
    bad = rtq.cli("apps", "release", "my-app")
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr.startswith("error: app: 'my-app' is not an app id")
    assert rtq.cli("apps", "list").stdout.split() == ["APP", "REASON", "SINCE", "UNTIL",
                                                       "HELD_JOBS", "DETAIL"]


def test_accounts_list_shows_locked_and_suspended_accounts_with_why(rtq: Rtq) -> None:
    """The table and JSON show each account's state, app and held detail."""
    with holding(rtq) as held:
        locked, suspended, active = rtq.add_account(), rtq.add_account(), rtq.add_account()
        held.hold_account(locked.account_id, "locked", "Your account is temporarily locked",
                          messages=held.jobs(locked.account_id, range(1, 3)))
        held.hold_account(suspended.account_id, "suspended", "User is suspended")
        listed = {a["account_id"]: a for a in json_lines(
            rtq.cli("accounts", "list", "--json").stdout)}
        assert listed[locked.account_id]["state"] == "locked"
        assert listed[locked.account_id]["held_jobs"] == 2
        assert listed[locked.account_id]["detail"] == "Your account is temporarily locked"
        assert str(listed[locked.account_id]["held_since"]).endswith("+00:00")
        assert listed[suspended.account_id]["state"] == "suspended"
        assert listed[active.account_id]["state"] == "active"
        assert listed[active.account_id]["detail"] is None
        assert listed[active.account_id]["app"] == app_of(rtq, active.account_id)
        table = rtq.cli("accounts", "list").stdout.splitlines()
        assert table[0].split()[:4] == ["ACCOUNT_ID", "STATE", "CONSUMER_KEY", "APP"]
        assert table[0].split()[-1] == "DETAIL"
        rows = {line.split()[0]: line for line in table[1:]}
        assert rows[locked.account_id].split()[1:4] == ["locked", "own",
                                                         app_of(rtq, locked.account_id)]
        assert rows[locked.account_id].endswith("Your account is temporarily locked")
        assert rows[suspended.account_id].endswith("User is suspended")
        assert rows[active.account_id].split()[1] == "active"
        assert rows[active.account_id].endswith(" -")


def test_accounts_release_makes_a_locked_account_active_and_requeues_its_jobs(rtq: Rtq
                                                                             ) -> None:
    """A locked account released is active, without a held detail, and its held jobs are
    queued again; the command prints how many."""
    with holding(rtq) as held:
        locked = rtq.add_account()
        job_ids = held.hold_account(locked.account_id, "locked", "Your account is locked",
                                    messages=held.jobs(locked.account_id, range(1, 3)))
        result = rtq.cli("accounts", "release", locked.account_id, env=held.env)
        assert result.returncode == 0, result.stderr
        assert result.stdout == (f"account {locked.account_id}: active, 2 held job(s) back in "
                                 "the queue\n")
        assert held.released() == 2
        assert {s.state for s in rtq.jobs.get_many(job_ids) if s} == {"queued"}
        (listed,) = json_lines(rtq.cli("accounts", "list", "--json").stdout)
        assert (listed["state"], listed["held_jobs"], listed["detail"]) == ("active", 0, None)


def test_accounts_release_of_an_unknown_account_is_an_error(rtq: Rtq) -> None:
    """An unknown account: exit 1; something that is not an account id: exit 2; each names
    the argument."""
    unknown = rtq.cli("accounts", "release", "31337")
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert unknown.stderr == "error: account_id: unknown account 31337\n"
    bad = rtq.cli("accounts", "release", "jack")
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr.startswith("error: account_id: expected 1-19")


def test_status_of_a_held_job_says_what_holds_it_and_how_to_release_it(rtq: Rtq) -> None:
    """`rtq status` of a job waiting for a held app is deferred, its detail naming the app,
    the reason and the command that releases it (text and JSON)."""
    with holding(rtq) as held:
        account = rtq.add_account()
        app = app_of(rtq, account.account_id)
        (job_id,) = held.hold_app(app, "credits_depleted", CREDITS,
                                  messages=held.jobs(account.account_id, range(1, 2)))
        why = f"held: app {app} credits_depleted (rtq apps release {app})"
        document = json.loads(rtq.cli("status", job_id, "--json").stdout)
        assert (document["state"], document["detail"]) == ("deferred", why)
        lines = rtq.cli("status", job_id).stdout.splitlines()
        assert "state       deferred" in lines and f"detail      {why}" in lines
