"""Finding an account's jobs (worker/ops/finding.py) with real workers: newest first with each
job's facts, pages without overlap or gap, filters by tweet and state whose walk is bounded,
and waiting jobs with their due time and why they wait (a rate window, a pause, a schedule, a
held account)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from producers import JobRequest, Producer
from tests.support import Rtq, wait_for
from worker.core import clock
from worker.core.keys import Keys
from worker.core.settings import Settings
from worker.domain import lanes
from worker.ops.finding import InvalidQuery, JobFinder, JobQuery, JobsPage

pytestmark = pytest.mark.usefixtures("worker")
# A queue no worker consumes.
IDLE_QUEUE = "rtq-finding-idle"


def finder(rtq: Rtq, **kwargs: int) -> JobFinder:
    return JobFinder(rtq.redis, Keys(), **kwargs)


def walk(found: JobFinder, **query: object) -> tuple[list[str], list[JobsPage]]:
    """Every page of a query, following the cursors: the job ids in order, and the pages."""
    ids: list[str] = []
    pages: list[JobsPage] = []
    cursor = None
    while True:
        page = found.jobs(JobQuery.parse(cursor=cursor, **query))  # type: ignore[arg-type]
        pages.append(page)
        ids += [j.job_id for j in page.jobs]
        if page.next_cursor is None:
            return ids, pages
        cursor = page.next_cursor


def test_an_accounts_jobs_come_newest_first_with_their_facts(rtq: Rtq) -> None:
    """Retweets and an undo of A, finished: newest first, each with its action, tweet, state,
    created and updated times; B's job is not among them."""
    a, b = rtq.add_account(), rtq.add_account()
    first = rtq.producer.enqueue("retweet", a.account_id, "11")
    second = rtq.producer.enqueue("retweet", a.account_id, "12")
    rtq.wait_terminal(first, second)
    undo = rtq.producer.enqueue("undo", a.account_id, "11")
    rtq.producer.enqueue("retweet", b.account_id, "11")
    rtq.wait_terminal(undo)
    page = finder(rtq).jobs(JobQuery.parse(a.account_id))
    assert [j.job_id for j in page.jobs] == [undo, second, first] and page.next_cursor is None
    newest = page.jobs[0].as_dict()
    assert (newest["action"], newest["tweet_id"], newest["state"]) == ("undo", "11", "succeeded")
    assert newest["created_at"] <= newest["updated_at"] and newest["due_at"] is None
    assert all(j.account_id == a.account_id and j.created_at for j in page.jobs)


def test_pages_neither_overlap_nor_leave_a_gap(rtq: Rtq) -> None:
    """25 jobs in pages of 7: 4 pages, every job once, newest first; the last has no cursor."""
    a = rtq.add_account()
    ids = rtq.producer.enqueue_many(
        [JobRequest.create("retweet", a.account_id, str(100 + i)) for i in range(25)])
    seen, pages = walk(finder(rtq), account=a.account_id, limit=7)
    assert seen == list(reversed(ids))
    assert [len(p.jobs) for p in pages] == [7, 7, 7, 4]


def test_filters_walk_a_bounded_part_of_the_index_per_call(rtq: Rtq) -> None:
    """40 jobs, 3 of them for tweet 7: with at most 12 entries examined per call, each call
    returns what it found in its 12 and a cursor; followed to the end, the 3 (newest first),
    never a job of another tweet. The state filter finds the one waiting job the same way."""
    a = rtq.add_account()
    tweet_7, every = [], []
    for i in range(40):
        tweet = "7" if i in (3, 20, 37) else str(1000 + i)
        every.append(rtq.producer.enqueue("retweet", a.account_id, tweet))
        if tweet == "7":
            tweet_7.append(every[-1])
    rtq.wait_terminal(*every, timeout=60)
    scheduled = rtq.producer.enqueue("retweet", a.account_id, "8",
                                     at=datetime.now(UTC) + timedelta(hours=1))
    small = finder(rtq, examine_max=12)
    seen, pages = walk(small, account=a.account_id, tweet="7")
    assert seen == list(reversed(tweet_7))
    assert all(p.examined <= 12 for p in pages) and len(pages) >= 3
    assert any(not p.jobs and p.next_cursor for p in pages)  # a call that found nothing yet
    waiting, _ = walk(small, account=a.account_id, state="waiting")
    assert waiting == [scheduled]
    # The same filters over the whole index in one call (the default bound)
    page = finder(rtq).jobs(JobQuery.parse(a.account_id, tweet="7", limit=2))
    assert [j.job_id for j in page.jobs] == list(reversed(tweet_7))[:2] and page.next_cursor


def test_a_jobs_record_gone_is_skipped_not_listed(rtq: Rtq) -> None:
    """An index entry outlives its record (expired): the listing skips it, the page still
    fills from older entries."""
    a = rtq.add_account()
    ids = rtq.producer.enqueue_many(
        [JobRequest.create("retweet", a.account_id, str(200 + i)) for i in range(5)])
    rtq.wait_terminal(*ids)
    rtq.redis.delete(Keys().job(ids[3]))
    page = finder(rtq).jobs(JobQuery.parse(a.account_id, limit=3))
    assert [j.job_id for j in page.jobs] == [ids[4], ids[2], ids[1]]


def test_jobs_waiting_for_a_rate_window_say_so_with_their_turn(rtq: Rtq) -> None:
    """A Free-tier account (1 call per 15 minutes): the first job runs, the next two wait for
    the window, the second a window after the first; both listed as waiting, with due times."""
    a = rtq.add_account()
    rtq.admin.configure(user_rate_limits={a.account_id: 1})
    rtq.accounts.set_rate_limit(a.account_id, (1, 900))
    rtq.wait_terminal(rtq.producer.enqueue("retweet", a.account_id, "1"))
    later = [rtq.producer.enqueue("retweet", a.account_id, str(t)) for t in (2, 3)]
    for job in later:
        rtq.wait_state(job, "deferred")
    page = finder(rtq).jobs(JobQuery.parse(a.account_id, state="waiting"))
    assert [j.job_id for j in page.jobs] == list(reversed(later))
    third, second = page.jobs
    assert {third.wait.reason, second.wait.reason} == {"rate_window"}  # type: ignore[union-attr]
    assert f"{a.account_id}:retweet" in (second.wait.detail or "")  # type: ignore[union-attr]
    due_2 = datetime.fromisoformat(second.wait.due_at or "")  # type: ignore[union-attr]
    due_3 = datetime.fromisoformat(third.wait.due_at or "")  # type: ignore[union-attr]
    now = datetime.now(UTC)
    # The window's end as X says it (x-rate-limit-reset, whole epoch seconds: up to a second
    # later than the window's true end).
    assert now + timedelta(seconds=800) < due_2 <= now + timedelta(seconds=902)
    assert due_3 - due_2 == timedelta(seconds=900)
    assert third.as_dict()["waiting_for"] == "rate_window"


def test_paused_and_scheduled_jobs_say_why_they_wait(rtq: Rtq) -> None:
    """A paused account's job waits for `rtq resume` (no due time); a scheduled one for its
    time; a held (locked) account's for a release."""
    a, b = rtq.add_account(), rtq.add_account()
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    scheduled = rtq.producer.enqueue("undo", a.account_id, "50", at=at)
    assert rtq.cli("pause", "--account", a.account_id).returncode == 0
    paused = rtq.producer.enqueue("retweet", a.account_id, "51")
    wait_for(lambda: rtq.redis.llen(Keys().paused(f"account:{a.account_id}")) == 1, 20,
             "the job held by the pause")
    rtq.admin.add_condition("account_locked", user_id=b.account_id, form="legacy")
    locked = rtq.producer.enqueue("retweet", b.account_id, "52")
    wait_for(lambda: rtq.redis.llen(Keys().held(b.account_id)) == 1, 20, "the job held")
    page = finder(rtq).jobs(JobQuery.parse(a.account_id, state="deferred"))
    by_id = {j.job_id: j.as_dict() for j in page.jobs}
    assert (by_id[paused]["waiting_for"], by_id[paused]["due_at"]) == ("pause", None)
    assert by_id[paused]["detail"] == f"paused: account:{a.account_id} (rtq resume)"
    assert by_id[scheduled]["waiting_for"] == "schedule"
    assert by_id[scheduled]["due_at"] == clock.iso(at.timestamp())
    (held,) = finder(rtq).jobs(JobQuery.parse(b.account_id, state="waiting")).jobs
    assert held.job_id == locked and held.wait is not None and held.wait.reason == "hold"
    assert held.wait.due_at is None and held.wait.detail
    # Resumed, the paused job runs and leaves the waiting list
    assert rtq.cli("resume", "--account", a.account_id).returncode == 0
    rtq.wait_terminal(paused)
    waiting = finder(rtq).jobs(JobQuery.parse(a.account_id, state="waiting")).jobs
    assert [j.job_id for j in waiting] == [scheduled]


def test_bad_queries_name_their_argument(rtq: Rtq) -> None:
    """No account (a tweet alone), a bad id, an unknown state or cursor, a limit out of range,
    an account rtq does not know: InvalidQuery names the argument; valid states are listed."""
    cases = {
        "account": [dict(account=None, tweet="5"), dict(account="abc")],
        "tweet": [dict(account="1", tweet="https://example.com/x")],
        "state": [dict(account="1", state="finished")],
        "cursor": [dict(account="1", cursor="yesterday")],
        "limit": [dict(account="1", limit="0"), dict(account="1", limit="many")],
    }
    for argument, queries in cases.items():
        for query in queries:
            with pytest.raises(InvalidQuery) as caught:
                JobQuery.parse(**query)  # type: ignore[arg-type]
            assert caught.value.argument == argument, query
    with pytest.raises(InvalidQuery, match=r"queued, deferred, running.*cancelled, expired"):
        JobQuery.parse("1", state="finished")
    with pytest.raises(InvalidQuery, match="account: unknown account 424242"):
        finder(rtq).jobs(JobQuery.parse("424242"))
    assert JobQuery.parse("007", state="Waiting").state == "deferred"


def test_a_filter_on_a_large_account_answers_quickly(rtq: Rtq) -> None:
    """20,000 jobs of one account, none in the asked state: one call examines its bound (5,000
    entries) and answers within a second with a cursor, rather than walking all 20,000."""
    a = rtq.add_account()
    # Enqueued to a queue no worker consumes, so that they stay queued.
    producer = Producer(rtq.redis, Settings.from_env({**rtq.env, "RTQ_QUEUE": IDLE_QUEUE}))
    try:
        producer.enqueue_many(
            [JobRequest.create("retweet", a.account_id, str(10_000 + i)) for i in range(20_000)])
        started = time.monotonic()
        page = finder(rtq).jobs(JobQuery.parse(a.account_id, state="dead"))
        took = time.monotonic() - started
    finally:
        rtq.redis.delete(*lanes.all_lanes(IDLE_QUEUE))
    print(f"\n[figure] filtered call over 5,000 of 20,000 entries: {took * 1000:.0f} ms")
    assert page.jobs == [] and page.examined == 5000 and page.next_cursor
    assert took < 1.0
