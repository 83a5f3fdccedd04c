"""`producers.cancel(...)`, the Python API's cancel, against real Redis and a real worker: it
cancels as `rtq cancel` does and records the calling user in the audit trail."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime, timedelta

import pytest

import producers
from producers import InvalidCancel
from tests.support import Rtq
from worker.core.keys import Keys
from worker.ops import audit


@pytest.mark.usefixtures("worker")
def test_producers_cancel_cancels_and_records_the_python_user(
        rtq: Rtq, monkeypatch: pytest.MonkeyPatch) -> None:
    """producers.cancel(job_id) ends the scheduled job cancelled and writes one audit entry
    with actor python:<user>; producers.cancel(account_id=...) cancels the account's rest."""
    monkeypatch.setattr(producers, "_default", rtq.producer)
    account = rtq.add_account()
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    one, two, three = (rtq.producer.enqueue("retweet", account.account_id, tweet, at=tomorrow)
                       for tweet in ("1", "2", "3"))
    report = producers.cancel(one)
    assert (report.target, report.cancelled, report.finished) == (f"job {one}", 1, 0)
    assert rtq.status(one).state == "cancelled"
    rest = producers.cancel(account_id=account.account_id)
    # The job cancelled first is the account's too: terminal already, so counted finished.
    assert (rest.cancelled, rest.finished) == (2, 1)
    assert {rtq.status(job).state for job in (two, three)} == {"cancelled"}
    actor = f"python:{getpass.getuser()}"
    entries = audit.entries(rtq.redis, Keys(rtq.settings.key_prefix))
    assert [(e.action, e.actor, e.target, e.jobs) for e in entries] == [
        ("cancel", actor, f"account:{account.account_id}", 2),
        ("cancel", actor, f"job {one}", 1)]
    assert rtq.x_calls(account.account_id) == []


def test_producers_cancel_names_the_bad_argument(rtq: Rtq, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    """A malformed account id raises InvalidCancel naming it, and nothing is audited."""
    monkeypatch.setattr(producers, "_default", rtq.producer)
    with pytest.raises(InvalidCancel) as caught:
        producers.cancel(account_id="x1")
    assert caught.value.field == "account_id"
    assert audit.entries(rtq.redis, Keys(rtq.settings.key_prefix)) == []
