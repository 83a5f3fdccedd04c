"""`rtq jobs` and `rtq pair` as an operator runs them (the real console script, real workers):
the table and the JSON page, following the printed cursor, waiting jobs with their due time
and reason, the pair's report, and bad input named by its argument."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from producers import JobRequest
from tests.support import Rtq, wait_for
from worker.core.keys import Keys

pytestmark = pytest.mark.usefixtures("worker")


def test_rtq_jobs_pages_follow_the_printed_cursor(rtq: Rtq) -> None:
    """5 finished jobs in pages of 2: the table's rows newest first, `next page: --cursor C` on
    stderr until the last page; the JSON page carries the same cursor."""
    a = rtq.add_account()
    ids = rtq.producer.enqueue_many(
        [JobRequest.create("retweet", a.account_id, str(300 + i)) for i in range(5)])
    rtq.wait_terminal(*ids)
    seen: list[str] = []
    args = ["jobs", "--account", a.account_id, "--limit", "2"]
    for _ in range(3):
        done = rtq.cli(*args)
        assert done.returncode == 0, done.stderr
        header, *rows = done.stdout.splitlines()
        assert header.split() == ["JOB", "ACTION", "TWEET", "STATE", "CREATED", "UPDATED",
                                  "DUE", "WHY"]
        assert all(row.split()[1:4] == ["retweet", row.split()[2], "succeeded"] for row in rows)
        seen += [row.split()[0] for row in rows]
        if "next page: --cursor " not in done.stderr:
            break
        args = [*args[:5], "--cursor", done.stderr.split("--cursor ")[1].split()[0]]
    assert seen == list(reversed(ids))
    page = json.loads(rtq.cli("jobs", "--account", a.account_id, "--limit", "2",
                              "--json").stdout)
    assert [j["job_id"] for j in page["jobs"]] == list(reversed(ids))[:2]
    assert page["next_cursor"] and page["examined"] == 2 and page["account_id"] == a.account_id
    assert set(page["jobs"][0]) >= {"job_id", "action", "tweet_id", "state", "created_at",
                                    "updated_at", "due_at", "waiting_for", "detail"}


def test_rtq_jobs_lists_the_waiting_jobs_with_their_due_times(rtq: Rtq) -> None:
    """`rtq jobs --account A --state waiting`: the scheduled and the paused job, each with its
    due time (or none) and why it waits; the finished one is not listed."""
    a = rtq.add_account()
    rtq.wait_terminal(rtq.producer.enqueue("retweet", a.account_id, "60"))
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    scheduled = rtq.producer.enqueue("retweet", a.account_id, "61", at=at)
    assert rtq.cli("pause", "--account", a.account_id).returncode == 0
    paused = rtq.producer.enqueue("retweet", a.account_id, "62")
    wait_for(lambda: rtq.redis.llen(Keys().paused(f"account:{a.account_id}")) == 1, 20,
             "the job paused")
    done = rtq.cli("jobs", "--account", a.account_id, "--state", "waiting")
    assert done.returncode == 0, done.stderr
    rows = {row.split()[0]: row for row in done.stdout.splitlines()[1:]}
    assert set(rows) == {scheduled, paused}
    assert at.isoformat(timespec="milliseconds") in rows[scheduled] and "schedule" in rows[
        scheduled]
    assert f"pause: paused: account:{a.account_id} (rtq resume)" in rows[paused]
    listed = json.loads(rtq.cli("jobs", "--account", a.account_id, "--state", "deferred",
                                "--tweet", "61", "--json").stdout)
    assert [(j["job_id"], j["waiting_for"]) for j in listed["jobs"]] == [(scheduled, "schedule")]


def test_rtq_pair_reports_the_pair(rtq: Rtq) -> None:
    """A retweeted pair, then its undo scheduled: the text names the intent, the known state and
    when X said it, the scheduled undo; --json has the same facts."""
    a = rtq.add_account()
    job = rtq.producer.enqueue("retweet", a.account_id, "70")
    rtq.wait_terminal(job)
    undo = rtq.producer.enqueue("undo", a.account_id, "70",
                                at=datetime.now(UTC) + timedelta(hours=1))
    done = rtq.cli("pair", a.account_id, "https://x.com/someone/status/70")
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(None, 1) if not line.startswith("latest job")
                 else ("latest", line[len("latest job"):].strip())
                 for line in done.stdout.splitlines())
    assert lines["intent"].startswith("retweet (seq ") and job in lines["intent"]
    assert lines["known"].startswith("retweeted (X said so at 20")
    assert lines["waiting"].startswith(f"{undo} undo: schedule; due 20")
    document = json.loads(rtq.cli("pair", a.account_id, "70", "--json").stdout)
    assert document["known"]["state"] == "retweeted" and document["intent"]["job_id"] == job
    assert [s["job_id"] for s in document["scheduled"]] == [undo]


def test_bad_input_names_the_argument(rtq: Rtq) -> None:
    """Each mistake is one line on stderr naming the argument, with a non-zero exit."""
    a = rtq.add_account()
    cases = [
        (["jobs", "--tweet", "5"], 2, "--account: give the account"),
        (["jobs"], 2, "--account: give the account"),
        (["jobs", "--account", "424242"], 1, "--account: unknown account 424242"),
        (["jobs", "--account", "x1"], 2, "--account: expected 1-19 ASCII digits"),
        (["jobs", "--account", a.account_id, "--tweet", "nope"], 2, "--tweet: expected"),
        (["jobs", "--account", a.account_id, "--state", "done"], 2,
         "--state: unknown state 'done' (one of: queued, deferred, running, succeeded, "
         "skipped, superseded, dead, cancelled, expired; waiting = deferred)"),
        (["jobs", "--account", a.account_id, "--cursor", "page2"], 2,
         "--cursor: 'page2' is not a page cursor"),
        (["jobs", "--account", a.account_id, "--cursor", "99999999999999999999-0"], 2,
         "--cursor: '99999999999999999999-0' is not a page cursor"),
        (["jobs", "--account", a.account_id, "--limit", "5000"], 2, "--limit: expected"),
        (["jobs", "--account", a.account_id, "--limit", "1_0"], 2, "--limit: expected"),
        (["pair", a.account_id, "twenty"], 2, "tweet: expected"),
        (["pair", "424242", "5"], 1, "account: unknown account 424242"),
    ]
    for args, code, message in cases:
        done = rtq.cli(*args)
        assert (done.returncode, done.stdout) == (code, ""), (args, done.stderr)
        assert done.stderr.startswith(f"error: {message}"), (args, done.stderr)
