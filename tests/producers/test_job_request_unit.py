"""`producers.job_request.JobRequest`: validating what producers are given."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime

import pytest

from producers import InvalidJob, JobRequest


@pytest.mark.parametrize(
    ("action", "account_id", "tweet_id", "expected"),
    [
        ("retweet", "7588892", "20", JobRequest("retweet", "7588892", "20")),
        ("undo", "7588892", "20", JobRequest("undo", "7588892", "20")),
        ("retweet", 7588892, 20, JobRequest("retweet", "7588892", "20")),
        ("retweet", 0, "0", JobRequest("retweet", "0", "0")),
        ("retweet", "1", "https://x.com/jack/status/20", JobRequest("retweet", "1", "20")),
        ("undo", "1", "https://twitter.com/jack/status/20?s=46", JobRequest("undo", "1", "20")),
        ("retweet", "1", "https://mobile.x.com/a_b/status/1234567890123456789/photo/1",
         JobRequest("retweet", "1", "1234567890123456789")),
    ],
)
def test_create_returns_canonical_ids(action, account_id, tweet_id, expected):
    """Ints become strings and tweet status URLs become the tweet id."""
    assert JobRequest.create(action, account_id, tweet_id) == expected


@pytest.mark.parametrize(
    "action", ["Retweet", "RETWEET", "rtq.retweet", "like", "", None, 1, ["retweet"], " undo"],
    ids=repr,
)
def test_create_rejects_an_unknown_action_naming_the_action_field(action):
    """Only `retweet` and `undo` are actions; anything else is InvalidJob on `action`."""
    with pytest.raises(InvalidJob) as caught:
        JobRequest.create(action, "1", "2")
    assert caught.value.field == "action"
    assert "retweet, undo" in str(caught.value)


@pytest.mark.parametrize(
    "account_id",
    ["", "abc", "-1", "1" * 20, "\u0663", 1.0, True, None, -5, "https://x.com/jack/status/20"],
    ids=repr,
)
def test_create_rejects_a_bad_account_id_naming_the_account_id_field(account_id):
    """A bad account id (URLs included) is InvalidJob on `account_id`."""
    with pytest.raises(InvalidJob) as caught:
        JobRequest.create("retweet", account_id, "2")
    assert caught.value.field == "account_id"
    assert str(caught.value).startswith("account_id: expected")


@pytest.mark.parametrize(
    "tweet_id",
    ["", "abc", "1" * 20, None, 2.0, False, "http://x.com/jack/status/20",
     "https://evil.com/jack/status/20", "https://x.com/jack/statuses/20",
     "https://x.com/jack/status/20abc"],
    ids=repr,
)
def test_create_rejects_a_bad_tweet_id_naming_the_tweet_id_field(tweet_id):
    """A bad tweet id or a URL that is not an https status URL is InvalidJob on `tweet_id`."""
    with pytest.raises(InvalidJob) as caught:
        JobRequest.create("retweet", "1", tweet_id)
    assert caught.value.field == "tweet_id"
    assert str(caught.value).startswith("tweet_id:")


def test_invalid_job_is_a_value_error_with_field_and_reason():
    """InvalidJob is a ValueError carrying `.field` and `.reason`."""
    with pytest.raises(ValueError, match=r"^action: ") as caught:
        JobRequest.create("like", "1", "2")
    assert isinstance(caught.value, InvalidJob)
    assert caught.value.field == "action"
    assert caught.value.reason.startswith("expected one of")


def test_from_record_reads_a_complete_record():
    """A JSON Lines record with the three fields becomes a request, URLs resolved."""
    record = {"action": "undo", "account_id": 7588892, "tweet_id": "https://x.com/j/status/20"}
    (request,) = JobRequest.from_record(record)
    assert request == JobRequest("undo", "7588892", "20")
    assert request.as_record() == {"action": "undo", "account_id": "7588892", "tweet_id": "20"}


@pytest.mark.parametrize("missing", ["action", "account_id", "tweet_id"])
def test_from_record_names_a_missing_field(missing):
    """A record without one of the three fields names that field."""
    record = {"action": "retweet", "account_id": "1", "tweet_id": "2"}
    del record[missing]
    with pytest.raises(InvalidJob) as caught:
        JobRequest.from_record(record)
    assert caught.value.field == missing
    assert caught.value.reason == "missing"


@pytest.mark.parametrize("unknown", ["job_id", "Action", "priority", "tweet"])
def test_from_record_rejects_an_unknown_field_naming_it(unknown):
    """Fields other than action, account_id and tweet_id are refused by name."""
    record = {"action": "retweet", "account_id": "1", "tweet_id": "2", unknown: "x"}
    with pytest.raises(InvalidJob) as caught:
        JobRequest.from_record(record)
    assert caught.value.field == unknown
    assert "unknown field" in caught.value.reason


def test_from_record_reports_unknown_fields_before_missing_ones():
    """A record with a misspelt field reports the misspelling, the likelier mistake."""
    with pytest.raises(InvalidJob) as caught:
        JobRequest.from_record({"action": "retweet", "account": "1", "tweet_id": "2"})
    assert caught.value.field == "account"


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"action": "share", "account_id": "1", "tweet_id": "2"}, "action"),
        ({"action": "retweet", "account_id": "x", "tweet_id": "2"}, "account_id"),
        ({"action": "retweet", "account_id": "1", "tweet_id": "http://x.com/a/status/2"},
         "tweet_id"),
        ({"action": None, "account_id": "1", "tweet_id": "2"}, "action"),
    ],
)
def test_from_record_names_the_field_whose_value_is_bad(record, field):
    """A present but bad value is reported on its field."""
    with pytest.raises(InvalidJob) as caught:
        JobRequest.from_record(record)
    assert caught.value.field == field


@pytest.mark.parametrize("record", [None, [], ["retweet", "1", "2"], "retweet 1 2", 42])
def test_from_record_rejects_a_line_that_is_not_an_object(record):
    """A JSON value that is not an object is refused on the `line` field."""
    with pytest.raises(InvalidJob) as caught:
        JobRequest.from_record(record)
    assert caught.value.field == "line"


def test_job_requests_are_frozen():
    """A validated request cannot be altered afterwards."""
    request = JobRequest.create("retweet", "1", "2")
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.tweet_id = "not-validated"  # type: ignore[misc]
    assert request.tweet_id == "2"


# -- deadlines ------------------------------------------------------------------------------

def _in(seconds: float) -> str:
    return datetime.fromtimestamp(time.time() + seconds, UTC).isoformat()


def test_a_deadline_is_an_expires_at_time_or_a_max_delay_after_the_job_is_due():
    """expires_at is kept as given; max_delay counts from the due time (now, or `at`)."""
    soon = JobRequest.create("retweet", "1", "2", expires_at=_in(60))
    assert soon.expires_at is not None and 59 < soon.expires_at - time.time() <= 60
    assert soon.deadline(now=0.0, default_delay=5) == soon.expires_at
    late = JobRequest.from_record({"action": "undo", "account_id": "1", "tweet_id": "2",
                                   "at": _in(3600), "max_delay": "15m"})[0]
    assert late.max_delay == 900 and late.at is not None
    assert late.deadline(now=0.0) == late.at + 900
    assert JobRequest.create("retweet", "1", "2", max_delay=30).deadline(now=100.0) == 130.0


def test_without_a_deadline_the_default_applies_or_none():
    """RTQ_JOB_MAX_DELAY (the producer's default_delay) applies to a job without one."""
    plain = JobRequest.create("retweet", "1", "2")
    assert plain.deadline(now=100.0) is None
    assert plain.deadline(now=100.0, default_delay=60) == 160.0


def test_a_boosts_undo_keeps_max_delay_but_not_expires_at():
    """A deadline before the undo is due would only expire it."""
    retweet, undo = JobRequest.create("retweet", "1", "2", expires_at=_in(60)).with_undo_after(
        "1h")
    assert retweet.expires_at is not None and undo.expires_at is None
    retweet, undo = JobRequest.create("retweet", "1", "2", max_delay="5m").with_undo_after("1h")
    assert retweet.max_delay == undo.max_delay == 300


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        # (Times a day or more ahead: these are made when the module is collected, and a
        # whole suite may run before this test does.)
        ({"expires_at": _in(86400), "max_delay": "5m"}, "max_delay", "not both"),
        ({"expires_at": _in(-60)}, "expires_at", "already past"),
        ({"expires_at": "tomorrow"}, "expires_at", "ISO-8601"),
        ({"expires_at": "2030-01-01T00:00:00"}, "expires_at", "offset"),
        ({"expires_at": 1700000000}, "expires_at", "ISO-8601 time string"),
        ({"expires_at": _in(400 * 86400)}, "expires_at", "at most 366 days"),
        ({"at": _in(2 * 86400), "expires_at": _in(86400)}, "expires_at", "must be after at"),
        ({"max_delay": "soon"}, "max_delay", "expected a duration"),
        ({"max_delay": 0}, "max_delay", "must be positive"),
        ({"max_delay": "400d"}, "max_delay", "at most 366 days"),
    ],
)
def test_a_bad_deadline_is_refused_naming_its_field(fields, field, reason):
    """Both, a past or unreadable time, a deadline before `at`, a bad duration: InvalidJob
    names the field and says why."""
    record = {"action": "retweet", "account_id": "1", "tweet_id": "2", **fields}
    with pytest.raises(InvalidJob) as caught:
        JobRequest.from_record(record)
    assert caught.value.field == field and reason in caught.value.reason


def test_as_record_keeps_the_deadline():
    """What `rtq dlq export` / the benches write reads back with the same deadline."""
    request = JobRequest.create("retweet", "1", "2", max_delay="10m")
    assert request.as_record()["max_delay"] == 600
    assert JobRequest.from_record(request.as_record())[0].max_delay == 600


@pytest.mark.parametrize("field", ["undo_after", "max_delay"])
@pytest.mark.parametrize("value", [548827357343629, "99999999999999999999d", -10**20])
def test_a_duration_too_large_for_python_is_refused_naming_its_field(field, value):
    """Found by schemathesis: durations beyond timedelta's range were an OverflowError (a
    500), now the field's own error."""
    record = {"action": "retweet", "account_id": "1", "tweet_id": "2", field: value}
    with pytest.raises(InvalidJob) as caught:
        JobRequest.from_record(record)
    assert caught.value.field == field
