"""`worker.domain.job.parse_job` and `echo`: what a task message must look like, what we
keep of it."""

from __future__ import annotations

import pytest

from worker.core.errors import MalformedMessage
from worker.domain.job import Job, echo, parse_job

JOB_ID = "6f1c1a2e-0000-4000-8000-000000000001"
GOOD = {"account_id": "7588892", "tweet_id": "1234567890123456789"}


def malformed(action="retweet", job_id=JOB_ID, args=(), kwargs=None) -> MalformedMessage:
    with pytest.raises(MalformedMessage) as caught:
        parse_job(action, job_id, args, GOOD if kwargs is None else kwargs)
    return caught.value


@pytest.mark.parametrize(("action", "desired"), [("retweet", True), ("undo", False)])
def test_a_well_formed_message_becomes_a_job(action, desired):
    """Two string ids under account_id and tweet_id, no args: a Job for that action."""
    job = parse_job(action, JOB_ID, (), dict(GOOD))
    assert job == Job(JOB_ID, action, "7588892", "1234567890123456789")
    assert job.desired is desired


def test_a_malformed_message_error_carries_field_problem_and_reason():
    """MalformedMessage names the field, the problem, and the dead-letter reason."""
    error = malformed(kwargs={"account_id": "7588892"})
    assert error.field == "tweet_id"
    assert error.problem == "missing"
    assert str(error) == "tweet_id: missing"
    assert error.reason == "malformed_message"


@pytest.mark.parametrize("action", ["like", "", "rtq.retweet", "Retweet", None])
def test_an_unknown_action_is_malformed_on_the_task_field(action):
    """Only retweet and undo are actions."""
    assert malformed(action=action).field == "task"


@pytest.mark.parametrize("job_id", ["", None])
def test_a_message_without_a_task_id_is_malformed_on_the_id_field(job_id):
    """A job id is required to track the job."""
    assert malformed(job_id=job_id).field == "id"


@pytest.mark.parametrize(
    "args", [("7588892", "20"), ("7588892",), (None,)], ids=["two", "one", "none-value"]
)
def test_positional_arguments_are_malformed_on_the_args_field(args):
    """Messages carry keyword arguments only; positional ones are refused, counted."""
    error = malformed(args=args)
    assert error.field == "args"
    assert f"{len(args)} given" in error.problem


@pytest.mark.parametrize("missing", ["account_id", "tweet_id"])
def test_a_missing_id_is_malformed_on_that_field(missing):
    """Both account_id and tweet_id are required."""
    kwargs = {k: v for k, v in GOOD.items() if k != missing}
    error = malformed(kwargs=kwargs)
    assert error.field == missing
    assert error.problem == "missing"


def test_no_kwargs_at_all_reports_account_id_missing():
    """An empty message reports its first missing field."""
    assert malformed(kwargs={}).field == "account_id"


@pytest.mark.parametrize(
    ("extra_key", "extra_value"),
    [
        ("consumer_secret", "csSECRETvalue0123456789"),
        ("access_token", "7588892-kagSNqGEvC8wEXyG9kZ0PC1GGxXKc8S1Ta1cUvvO"),
        ("priority", 9),
        ("tweet", "20"),
    ],
)
def test_an_extra_keyword_is_malformed_naming_it_without_echoing_its_value(extra_key, extra_value):
    """An unexpected kwarg is named, but its value (maybe a secret) is never echoed."""
    error = malformed(kwargs={**GOOD, extra_key: extra_value})
    assert error.field == extra_key
    assert str(extra_value) not in str(error)
    assert "only account_id, tweet_id" in error.problem


def test_several_extra_keywords_report_the_first_in_sorted_order():
    """The report is deterministic: the alphabetically first extra key is named."""
    error = malformed(kwargs={**GOOD, "zeta": 1, "alpha": 2})
    assert error.field == "alpha"


@pytest.mark.parametrize("field_name", ["account_id", "tweet_id"])
@pytest.mark.parametrize(
    ("value", "type_name"),
    [(7588892, "int"), (20.0, "float"), (True, "bool"), (None, "NoneType"),
     (["7588892"], "list"), ({"id": "1"}, "dict")],
)
def test_a_non_string_id_is_malformed_naming_its_type(field_name, value, type_name):
    """Ids in messages must be JSON strings; ints, lists, null and the like are refused."""
    error = malformed(kwargs={**GOOD, field_name: value})
    assert error.field == field_name
    assert error.problem == f"expected a JSON string, got {type_name}"


@pytest.mark.parametrize("field_name", ["account_id", "tweet_id"])
@pytest.mark.parametrize(
    "value",
    ["", "abc", "-1", "1.0", " 1", "1 ", "1" * 20, "\u00b2", "\u0663", "\uff11", "0x1"],
    ids=repr,
)
def test_a_string_id_that_is_not_ascii_digits_is_malformed(field_name, value):
    """String ids must be 1-19 ASCII digits."""
    error = malformed(kwargs={**GOOD, field_name: value})
    assert error.field == field_name
    assert "1-19 ASCII digits" in error.problem


@pytest.mark.parametrize("field_name", ["account_id", "tweet_id"])
@pytest.mark.parametrize(
    "url",
    ["https://x.com/jack/status/20", "https://twitter.com/jack/status/20?s=20",
     "http://x.com/jack/status/20"],
)
def test_urls_in_messages_are_malformed(field_name, url):
    """Messages carry ids only: producers resolve URLs before enqueueing."""
    error = malformed(kwargs={**GOOD, field_name: url})
    assert error.field == field_name
    assert "ASCII digits" in error.problem


def test_a_long_bad_id_is_not_echoed_in_full():
    """A huge bad value is shortened in the error message."""
    error = malformed(kwargs={**GOOD, "tweet_id": "a" * 5_000})
    assert len(str(error)) < 200


# -- echo ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7588892", "7588892"), ("", ""), ("x" * 40, "x" * 40), (20, "20"), (0, "0"), (-3, "-3")],
)
def test_echo_keeps_short_strings_and_ints_as_text(value, expected):
    """Short printable strings and ints are kept (ints as their decimal text)."""
    assert echo(value) == expected


@pytest.mark.parametrize(
    "value", [None, True, False, 1.5, b"bytes", ["1"], {"a": 1}, ("1",), object()],
    ids=lambda v: type(v).__name__,
)
def test_echo_drops_values_that_are_not_strings_or_ints(value):
    """Anything other than a str or a (non-bool) int is dropped."""
    assert echo(value) is None


@pytest.mark.parametrize("value", ["x" * 41, "y" * 10_000, 10**60])
def test_echo_truncates_long_values_to_forty_characters(value):
    """A long value is cut to 40 characters and marked with an ellipsis."""
    result = echo(value)
    assert result == str(value)[:40] + "..."


@pytest.mark.parametrize("value", ["1\n2", "1\r\nINFO forged log line", "\x1b[31mred", "a\x00"])
def test_echo_never_returns_non_printable_text(value):
    """A string with control characters is dropped or made printable, never kept raw."""
    result = echo(value)
    assert result is None or result.isprintable()
