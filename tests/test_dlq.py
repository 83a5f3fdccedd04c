"""The dead-letter queue from the operator's side: list, show, replay, purge."""

from __future__ import annotations

import json

import pytest

from tests.support import Rtq, wait_for

pytestmark = pytest.mark.usefixtures("worker")


def _dead_job(rtq: Rtq, account_id: str, tweet: str = "404") -> str:
    rtq.admin.configure(missing_tweets=[tweet])
    job_id = rtq.producer.enqueue("retweet", account_id, tweet)
    assert rtq.wait_terminal(job_id)[0].state == "dead"
    return job_id


def test_list_json_gives_the_contract_fields(rtq: Rtq) -> None:
    """`rtq dlq list --json`: one object per line with the documented fields."""
    account = rtq.add_account()
    job_id = _dead_job(rtq, account.account_id)
    result = rtq.cli("dlq", "list", "--json")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    entry = json.loads(line)
    assert {"id", "job_id", "action", "account_id", "tweet_id", "reason", "http_status",
            "detail", "attempts", "failed_at"} <= set(entry)
    assert (entry["job_id"], entry["reason"], entry["http_status"]) == (job_id, "not_found", 404)
    assert entry["failed_at"].endswith("+00:00") and entry["attempts"] == 1


def test_list_filters_by_reason_and_account(rtq: Rtq) -> None:
    """--reason and --account narrow the list."""
    one, two = rtq.add_account(), rtq.add_account()
    _dead_job(rtq, one.account_id)
    rtq.send_task("rtq.retweet", kwargs={"account_id": "1"})
    wait_for(lambda: rtq.dead_letters.count() == 2, 20, "two dead letters")
    by_reason = rtq.cli("dlq", "list", "--json", "--reason", "malformed_message")
    assert [json.loads(x)["reason"] for x in by_reason.stdout.splitlines()] == [
        "malformed_message"]
    by_account = rtq.cli("dlq", "list", "--json", "--account", one.account_id)
    assert [json.loads(x)["account_id"] for x in by_account.stdout.splitlines()] == [
        one.account_id]
    assert rtq.cli("dlq", "list", "--json", "--account", two.account_id).stdout == ""


def test_show_gives_the_attempt_history(rtq: Rtq) -> None:
    """`rtq dlq show ID --json` includes every attempt; an unknown id is an error."""
    account = rtq.add_account()
    _dead_job(rtq, account.account_id)
    (entry,) = rtq.dead_letters.list()
    shown = json.loads(rtq.cli("dlq", "show", entry.id, "--json").stdout)
    assert shown["id"] == entry.id and len(shown["history"]) == 1
    assert shown["history"][0]["http_status"] == 404
    missing = rtq.cli("dlq", "show", "nope")
    assert missing.returncode == 1 and "unknown dead-letter entry nope" in missing.stderr


def test_replay_enqueues_a_new_job_and_removes_the_entry(rtq: Rtq) -> None:
    """Once the cause is fixed, replay runs the action again as a new job."""
    account = rtq.add_account()
    old_job = _dead_job(rtq, account.account_id, "505")
    (entry,) = rtq.dead_letters.list()
    rtq.admin.configure(missing_tweets=[])
    result = rtq.cli("dlq", "replay", entry.id)
    assert result.returncode == 0, result.stderr
    new_job = result.stdout.strip()
    assert new_job and new_job != old_job
    assert rtq.wait_terminal(new_job)[0].state == "succeeded"
    assert rtq.dead_letters.count() == 0
    assert rtq.admin.state(account.account_id) == {account.account_id: ["505"]}


def test_replay_all_skips_malformed_messages(rtq: Rtq) -> None:
    """--all replays what can be replayed; malformed messages stay for inspection."""
    account = rtq.add_account()
    _dead_job(rtq, account.account_id, "606")
    rtq.send_task("rtq.undo", kwargs={"tweet_id": "1"})
    wait_for(lambda: rtq.dead_letters.count() == 2, 20, "two dead letters")
    rtq.admin.configure(missing_tweets=[])
    result = rtq.cli("dlq", "replay", "--all")
    assert result.returncode == 0, result.stderr
    (new_job,) = result.stdout.split()
    assert rtq.wait_terminal(new_job)[0].state == "succeeded"
    assert [e.reason for e in rtq.dead_letters.list()] == ["malformed_message"]


def test_a_malformed_message_cannot_be_replayed(rtq: Rtq) -> None:
    """Replaying a malformed_message entry is an error and keeps the entry."""
    rtq.send_task("rtq.retweet", kwargs={"account_id": "x", "tweet_id": "1"})
    (entry,) = wait_for(rtq.dead_letters.list, 20, "a dead letter")
    result = rtq.cli("dlq", "replay", entry.id)
    assert result.returncode == 1 and "cannot be replayed" in result.stderr
    assert result.stdout == "" and rtq.dead_letters.count() == 1


def test_replay_keeps_the_entry_when_the_job_cannot_be_enqueued(rtq: Rtq) -> None:
    """An account removed since: replay fails naming it, and the entry stays."""
    account = rtq.add_account()
    _dead_job(rtq, account.account_id)
    (entry,) = rtq.dead_letters.list()
    rtq.accounts.remove(account.account_id)
    result = rtq.cli("dlq", "replay", entry.id)
    assert result.returncode == 1 and "unknown account" in result.stderr
    assert rtq.dead_letters.get(entry.id) is not None


def test_purge_needs_yes_when_not_interactive(rtq: Rtq) -> None:
    """Without --yes and without a terminal, purge refuses; with --yes it empties the queue."""
    account = rtq.add_account()
    _dead_job(rtq, account.account_id)
    refused = rtq.cli("dlq", "purge", input="")
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert rtq.dead_letters.count() == 1
    done = rtq.cli("dlq", "purge", "--yes")
    assert done.returncode == 0 and rtq.dead_letters.count() == 0


def test_dlq_and_status_work_without_the_secret_key(rtq: Rtq) -> None:
    """Operators can inspect without RTQ_SECRET_KEY."""
    account = rtq.add_account()
    job_id = _dead_job(rtq, account.account_id)
    env = {k: v for k, v in rtq.env.items() if k != "RTQ_SECRET_KEY"}
    assert rtq.cli("dlq", "list", env=env).returncode == 0
    assert rtq.cli("status", job_id, env=env).returncode == 0
    assert rtq.cli("accounts", "list", env=env).returncode == 0


def test_replay_all_goes_on_past_an_entry_it_cannot_replay(rtq: Rtq) -> None:
    """An unknown-account entry ahead of a fixable one: the fixable one is replayed, the other
    reported, and the exit status says something was not replayed."""
    rtq.send_task("rtq.retweet", kwargs={"account_id": "999", "tweet_id": "1"})
    wait_for(lambda: rtq.dead_letters.count() == 1, 20, "the unknown-account entry")
    account = rtq.add_account()
    _dead_job(rtq, account.account_id, "707")
    rtq.admin.configure(missing_tweets=[])
    result = rtq.cli("dlq", "replay", "--all")
    assert result.returncode == 1 and "unknown account 999" in result.stderr
    (new_job,) = result.stdout.split()
    assert rtq.wait_terminal(new_job)[0].state == "succeeded"
    assert [e.reason for e in rtq.dead_letters.list()] == ["unknown_account"]
