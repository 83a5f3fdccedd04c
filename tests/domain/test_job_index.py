"""The account job index: every job of an account, from any producer, newest first, paged;
other accounts' jobs never in it; trimmed with the records it names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from redis.client import NEVER_DECODE

from producers import JobRequest
from tests.support import Rtq, wait_for
from worker.core.keys import Keys
from worker.domain.job_index import InvalidCursor, JobIndex

pytestmark = pytest.mark.usefixtures("worker")


def test_every_producer_path_indexes_the_job_newest_first(rtq: Rtq) -> None:
    """Enqueued one by one, in bulk, scheduled, and as a raw send_task message a worker meets:
    all of A's jobs, newest first, and none of B's."""
    a, b = rtq.add_account(), rtq.add_account()
    index = JobIndex(rtq.redis, Keys())
    first = rtq.producer.enqueue("retweet", a.account_id, "11")
    bulk = rtq.producer.enqueue_many(
        [JobRequest.create("retweet", a.account_id, str(20 + i)) for i in range(3)])
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    scheduled = rtq.producer.enqueue("undo", a.account_id, "11", at=tomorrow)
    rtq.producer.enqueue("retweet", b.account_id, "11")
    raw = rtq.send_task("rtq.retweet", kwargs={"account_id": a.account_id, "tweet_id": "31"})
    wait_for(lambda: index.size(a.account_id) == 6, 30, "the raw message indexed by a worker")
    assert list(index.newest_first(a.account_id)) == [raw, scheduled, *reversed(bulk), first]
    assert index.size(b.account_id) == 1


def test_pages_go_from_newest_to_oldest_without_overlap(rtq: Rtq) -> None:
    a = rtq.add_account()
    index = JobIndex(rtq.redis, Keys())
    ids = rtq.producer.enqueue_many(
        [JobRequest.create("retweet", a.account_id, str(100 + i)) for i in range(25)])
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = index.page(a.account_id, before=cursor, count=10)
        seen += page.job_ids
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == list(reversed(ids)) and pages == 3


def test_a_bad_cursor_is_refused_by_name(rtq: Rtq) -> None:
    for bad in ("yesterday", "99999999999999999999-0", "1-18446744073709551616"):
        with pytest.raises(InvalidCursor, match="not a page cursor"):
            JobIndex(rtq.redis, Keys()).page("1", before=bad)


def test_ids_rtq_did_not_make_are_kept_as_they_are(rtq: Rtq) -> None:
    """rtq's own ids are stored packed (16 bytes); a raw message's task id of any other form
    (a name, an upper-case UUID) is stored as text; all read back exactly."""
    a = rtq.add_account()
    index = JobIndex(rtq.redis, Keys())
    own = rtq.producer.enqueue("retweet", a.account_id, "1")
    named = rtq.send_task("rtq.retweet", kwargs={"account_id": a.account_id, "tweet_id": "2"},
                          task_id="order-42")
    upper = rtq.send_task("rtq.retweet", kwargs={"account_id": a.account_id, "tweet_id": "3"},
                          task_id="0A1B2C3D-0000-4000-8000-00000000000F")
    wait_for(lambda: index.size(a.account_id) == 3, 30, "the raw messages indexed")
    assert list(index.newest_first(a.account_id)) == [upper, named, own]
    # Read undecoded, as JobIndex reads it: a packed id is not text.
    entries = rtq.redis.execute_command("XRANGE", Keys().account_jobs(a.account_id), "-", "+",
                                        **{NEVER_DECODE: True})
    assert [next(iter(fields)) for _, fields in entries] == [b"u", b"j", b"j"]
    assert len(entries[0][1][b"u"]) == 16


def test_the_first_possible_cursor_is_an_empty_page(rtq: Rtq) -> None:
    """`0-0` (nothing is older) is a well-formed cursor: an empty last page, not an error."""
    a = rtq.add_account()
    rtq.producer.enqueue("retweet", a.account_id, "1")
    page = JobIndex(rtq.redis, Keys()).page(a.account_id, before="0-0")
    assert page.job_ids == [] and page.next_cursor is None
