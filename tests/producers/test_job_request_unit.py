"""`producers.job_request.JobRequest`: validating what producers are given."""

from __future__ import annotations

import dataclasses

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
