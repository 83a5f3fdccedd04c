"""The dead-letter queue from the operator's side: list, show, replay, purge."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support import Rtq, wait_for
from worker.core import clock
from worker.core.keys import Keys
from worker.domain.dlq import DeadLetter, DeadLetters

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
    refused = rtq.cli("dlq", "replay", entry.id)
    assert refused.returncode == 1 and "--force" in refused.stderr
    result = rtq.cli("dlq", "replay", entry.id, "--force")
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
    result = rtq.cli("dlq", "replay", "--all", "--force")
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


def _exhausted_job(rtq: Rtq, account_id: str, tweet: str = "808") -> str:
    rtq.admin.script([{"user_id": account_id, "tweet_id": tweet,
                       "responses": [{"status": 503}] * 3}])
    job_id = rtq.producer.enqueue("retweet", account_id, tweet)
    assert rtq.wait_terminal(job_id)[0].reason == "retries_exhausted"
    return job_id


def test_replay_keeps_the_entry_when_the_job_cannot_be_enqueued(rtq: Rtq) -> None:
    """An account removed since: replay fails naming it and suggesting --force; the entry
    stays. With --force the job is enqueued anyway (and dead-lettered again, as unknown)."""
    account = rtq.add_account()
    _exhausted_job(rtq, account.account_id)
    (entry,) = rtq.dead_letters.list()
    rtq.accounts.remove(account.account_id)
    result = rtq.cli("dlq", "replay", entry.id)
    assert result.returncode == 1 and "unknown account" in result.stderr
    assert "--force" in result.stderr and rtq.dead_letters.get(entry.id) is not None
    forced = rtq.cli("dlq", "replay", entry.id, "--force")
    assert forced.returncode == 0, forced.stderr
    (status,) = rtq.wait_terminal(forced.stdout.strip())
    assert (status.state, status.reason) == ("dead", "unknown_account")
    assert [e.reason for e in rtq.dead_letters.list()] == ["unknown_account"]


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
    """An unknown-account entry (permanent: needs --force) ahead of a retryable one: the
    retryable one is replayed, the other reported, and the exit status says so."""
    rtq.send_task("rtq.retweet", kwargs={"account_id": "999", "tweet_id": "1"})
    wait_for(lambda: rtq.dead_letters.count() == 1, 20, "the unknown-account entry")
    account = rtq.add_account()
    _exhausted_job(rtq, account.account_id, "707")
    result = rtq.cli("dlq", "replay", "--all")
    assert result.returncode == 1 and "permanent reason (unknown_account)" in result.stderr
    (new_job,) = result.stdout.split()
    assert rtq.wait_terminal(new_job)[0].state == "succeeded"
    assert [e.reason for e in rtq.dead_letters.list()] == ["unknown_account"]


def test_retryable_entries_replay_without_force(rtq: Rtq) -> None:
    """retries_exhausted is not permanent: replay needs no --force."""
    account = rtq.add_account()
    _exhausted_job(rtq, account.account_id)
    result = rtq.cli("dlq", "replay", "--reason", "retries_exhausted")
    assert result.returncode == 0, result.stderr
    assert rtq.wait_terminal(result.stdout.strip())[0].state == "succeeded"


def test_replay_rate_paces_a_mass_replay(rtq: Rtq) -> None:
    """--rate 5/s: six jobs take at least a second to enqueue."""
    account = rtq.add_account()
    for tweet in range(6):
        _exhausted_job(rtq, account.account_id, str(900 + tweet))
    started = time.monotonic()
    result = rtq.cli("dlq", "replay", "--all", "--rate", "5/s")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == 6 and elapsed >= 1.0
    assert rtq.cli("dlq", "replay", "--all", "--rate", "fast").returncode == 2


def test_since_selects_recent_entries(rtq: Rtq) -> None:
    """--since takes a duration or an ISO time; entries before it are left out."""
    account = rtq.add_account()
    _dead_job(rtq, account.account_id)
    assert len(rtq.cli("dlq", "list", "--json", "--since", "1h").stdout.splitlines()) == 1
    future = "2099-01-01T00:00:00Z"
    assert rtq.cli("dlq", "list", "--json", "--since", future).stdout == ""
    bad = rtq.cli("dlq", "list", "--since", "yesterday")
    assert bad.returncode == 2 and "since:" in bad.stderr


def test_export_writes_lines_enqueue_reads_back(rtq: Rtq, tmp_path: Path) -> None:
    """`rtq dlq export FILE` then `rtq enqueue FILE`: the jobs run again."""
    account = rtq.add_account()
    _exhausted_job(rtq, account.account_id)
    rtq.send_task("rtq.retweet", kwargs={"tweet_id": "1"})
    wait_for(lambda: rtq.dead_letters.count() == 2, 20, "two dead letters")
    path = tmp_path / "dead.jsonl"
    exported = rtq.cli("dlq", "export", str(path))
    assert exported.returncode == 0 and "skipped 1" in exported.stderr
    assert [json.loads(x)["tweet_id"] for x in path.read_text().splitlines()] == ["808"]
    again = rtq.cli("enqueue", str(path))
    assert again.returncode == 0, again.stderr
    assert rtq.wait_terminal(again.stdout.strip())[0].state == "succeeded"


def test_purge_with_filters_removes_only_those(rtq: Rtq) -> None:
    """purge --reason removes the matching entries and keeps the rest."""
    account = rtq.add_account()
    _dead_job(rtq, account.account_id)
    rtq.send_task("rtq.retweet", kwargs={"tweet_id": "1"})
    wait_for(lambda: rtq.dead_letters.count() == 2, 20, "two dead letters")
    result = rtq.cli("dlq", "purge", "--yes", "--reason", "malformed_message")
    assert result.returncode == 0 and "purged 1" in result.stderr
    assert [e.reason for e in rtq.dead_letters.list()] == ["not_found"]


def test_the_queue_is_capped_and_aged_oldest_first(redis_client: object) -> None:
    """RTQ_DLQ_MAX and RTQ_DLQ_TTL: the oldest entries go first, and the counts are known."""
    keys = Keys("rtq")
    letters = DeadLetters(redis_client, keys, max_entries=3, ttl=3600)  # type: ignore[arg-type]
    now = clock.ms(clock.now())
    for n, age_ms in enumerate([7_200_000, 60_000, 50_000, 40_000, 30_000]):
        entry = DeadLetter(id=f"e{n}", job_id=None, action="retweet", account_id="1",
                           tweet_id=str(n), reason="not_found", http_status=404, detail="x",
                           attempts=1, failed_at=clock.iso((now - age_ms) / 1000))
        redis_client.hset(keys.dlq_entries, entry.id, entry.to_json())  # type: ignore[attr-defined]
        redis_client.zadd(keys.dlq_index, {entry.id: now - age_ms})  # type: ignore[attr-defined]
    assert letters.trim() == (1, 1)
    assert [e.id for e in letters.list()] == ["e2", "e3", "e4"]
