"""`worker.core.observability`: scrubbing credentials from logs and Sentry events, JSON log
lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st

from worker.core.observability import (
    _SECRET_PATTERNS,
    _SECRET_WORDS,
    JsonFormatter,
    before_send,
    scrub,
    scrub_text,
)

CONSUMER_KEY = "ckPUBLICish0123456789"
ACCESS_TOKEN = "7588892-kagSNqGEvC8wEXyG9kZ0PC1GGxXKc8S1Ta1cUvvO"
SIGNATURE = "tnnArxj06cWHq44gCs1OSKk%2FjLY%3D"
NONCE = "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"
OAUTH_HEADER = (
    f'OAuth oauth_consumer_key="{CONSUMER_KEY}", oauth_nonce="{NONCE}", '
    f'oauth_signature="{SIGNATURE}", oauth_signature_method="HMAC-SHA1", '
    f'oauth_timestamp="1318622958", oauth_token="{ACCESS_TOKEN}", oauth_version="1.0"'
)
SECRET = "s3cr3t-VALUE-0123456789"


def fernet_token(size: int) -> str:
    return Fernet(Fernet.generate_key()).encrypt(b"x" * size).decode()


# -- scrub_text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "{}",
        "Authorization: {}",
        "request headers: {{'Authorization': '{}'}}",
        "signing failed for header [{}] after 3 tries",
    ],
)
def test_an_oauth_authorization_header_loses_every_parameter_value(template):
    """Consumer key, token, nonce and signature inside an OAuth header text are filtered."""
    text = scrub_text(template.format(OAUTH_HEADER))
    for value in (CONSUMER_KEY, ACCESS_TOKEN, SIGNATURE, NONCE):
        assert value not in text
    assert "[Filtered]" in text


def test_oauth_parameters_in_a_query_string_are_filtered():
    """A signed URL's oauth_* query parameters are filtered."""
    url = (f"https://api.x.com/2/users/1/retweets?oauth_consumer_key={CONSUMER_KEY}"
           f"&oauth_token={ACCESS_TOKEN}&oauth_signature={SIGNATURE}")
    text = scrub_text(url)
    for value in (CONSUMER_KEY, ACCESS_TOKEN, SIGNATURE):
        assert value not in text
    assert text.startswith("https://api.x.com/2/users/1/retweets?")


@pytest.mark.parametrize(
    "text",
    [
        f"password={SECRET}",
        f"password: {SECRET}",
        f"consumer_secret={SECRET}",
        f"access_token_secret = {SECRET}",
        f'{{"access_token_secret": "{SECRET}", "job_id": "j1"}}',
        f"{{'consumer_secret': '{SECRET}'}}",
        f"access_token={SECRET}",
        f"signature:{SECRET}",
        f"AUTHORIZATION={SECRET}",
    ],
)
def test_key_value_secrets_in_text_are_filtered(text):
    """`secret=...`, `token: ...`, JSON and repr forms of secret-named keys lose their values."""
    scrubbed = scrub_text(text)
    assert SECRET not in scrubbed
    assert "[Filtered]" in scrubbed


@pytest.mark.parametrize("size", [1, 20, 40], ids=["padded-2", "padded-1", "unpadded"])
def test_fernet_tokens_in_text_are_filtered(size):
    """Encrypted credentials (Fernet tokens) never survive scrubbing."""
    token = fernet_token(size)
    scrubbed = scrub_text(f"stored credentials {token} for account 7588892")
    assert token.rstrip("=") not in scrubbed
    assert "7588892" in scrubbed


@pytest.mark.parametrize("scheme", ["Bearer", "Basic"])
def test_a_bearer_or_basic_authorization_header_loses_its_credential(scheme):
    """`Authorization: Bearer <token>` text keeps no part of the token."""
    token = "AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI"
    assert token not in scrub_text(f"Authorization: {scheme} {token}")


@pytest.mark.parametrize(
    "text",
    [
        "job 9b1c retweet succeeded",
        "job_id=9b1c account_id=7588892 tweet_id=1234567890123456789 reason=not_found",
        "X answered 403: You have already retweeted this Tweet.",
        "retries_exhausted after 5 attempts; last: HTTP 503 from X",
        "key 2 of 3 is not a valid Fernet key",
    ],
)
def test_ordinary_log_text_is_left_unchanged(text):
    """Ids, reasons and X's details are not mistaken for credentials."""
    assert scrub_text(text) == text


# -- scrub --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["access_token", "access_token_secret", "consumer_key", "consumer_secret", "Authorization",
     "authorization", "password", "REDIS_PASSWORD", "oauth_signature", "Cookie", "sentry_dsn",
     "api_key"],
)
def test_values_under_secret_looking_keys_are_filtered(key):
    """A dict value under a credential-like key is replaced whatever it is."""
    assert scrub({key: SECRET}) == {key: "[Filtered]"}
    assert scrub({key: {"nested": SECRET}}) == {key: "[Filtered]"}


@pytest.mark.parametrize(
    ("key", "value"),
    [("job_id", "9b1c"), ("account_id", "7588892"), ("tweet_id", "20"), ("reason", "not_found"),
     ("action", "retweet"), ("attempt", 3), ("http_status", 403), ("detail", "Forbidden"),
     ("outcome", None)],
)
def test_ordinary_fields_are_kept(key, value):
    """Job fields and X's answers pass through scrubbing unchanged."""
    assert scrub({key: value}) == {key: value}


def test_scrub_recurses_into_nested_dicts_lists_and_tuples():
    """Secrets are found at any depth; containers keep their shape (tuples become lists)."""
    event = {
        "extra": {"kwargs": {"account_id": "1", "consumer_secret": SECRET}},
        "breadcrumbs": [{"message": f"password={SECRET}", "level": "info"}],
        "args": ("ok", f"access_token={SECRET}", 5, None),
    }
    scrubbed = scrub(event)
    assert SECRET not in json.dumps(scrubbed)
    assert scrubbed["extra"]["kwargs"]["account_id"] == "1"
    assert scrubbed["breadcrumbs"][0]["level"] == "info"
    assert scrubbed["args"][0] == "ok"
    assert scrubbed["args"][2:] == [5, None]


def test_scrub_does_not_modify_its_input():
    """Scrubbing returns a new structure; the caller's data is untouched."""
    event = {"password": SECRET, "items": [f"password={SECRET}"]}
    scrub(event)
    assert event == {"password": SECRET, "items": [f"password={SECRET}"]}


def test_before_send_scrubs_a_sentry_shaped_event():
    """A Sentry event with request headers, exception text and extras keeps no credential."""
    # Given an event as Sentry hands it to before_send
    event = {
        "request": {"url": "https://api.x.com/2/users/7588892/retweets",
                    "headers": {"Authorization": OAUTH_HEADER, "Content-Type": "application/json"}},
        "exception": {"values": [{"type": "RuntimeError",
                                  "value": f"failed with header {OAUTH_HEADER}"}]},
        "extra": {"job_id": "9b1c", "access_token_secret": SECRET},
        "tags": {"account_id": "7588892"},
    }
    # When before_send runs
    sent = before_send(event, {"exc_info": None})
    # Then no credential is left, while the job's identity is
    text = json.dumps(sent)
    for value in (SECRET, CONSUMER_KEY, ACCESS_TOKEN, SIGNATURE, NONCE):
        assert value not in text
    assert sent["extra"]["job_id"] == "9b1c"
    assert sent["tags"]["account_id"] == "7588892"
    assert sent["request"]["headers"]["Content-Type"] == "application/json"


# -- JsonFormatter ------------------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("rtq.unit-tests.json")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.handlers = []


def lines_of(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_record_is_one_json_object_on_one_line(json_log):
    """Two records give two lines, each a complete JSON object, even with newlines inside."""
    logger, stream = json_log
    logger.info("first\nsecond line of the same record")
    logger.warning("another")
    records = lines_of(stream)
    assert len(records) == 2
    assert records[0]["message"] == "first\nsecond line of the same record"
    assert (records[0]["level"], records[1]["level"]) == ("info", "warning")
    assert records[0]["logger"] == "rtq.unit-tests.json"
    assert "time" in records[0]


def test_job_fields_passed_via_extra_are_included(json_log):
    """job_id, account_id, tweet_id, action, outcome, attempt, reason, duration_ms appear."""
    logger, stream = json_log
    extra = {"job_id": "9b1c", "account_id": "7588892", "tweet_id": "20", "action": "undo",
             "outcome": "dead", "attempt": 2, "reason": "not_found", "duration_ms": 12.5}
    logger.info("job %s %s %s", "9b1c", "undo", "dead", extra=extra)
    (record,) = lines_of(stream)
    assert record["message"] == "job 9b1c undo dead"
    for name, value in extra.items():
        assert record[name] == value


def test_fields_not_passed_are_absent_and_other_extras_are_not_copied(json_log):
    """Only the job fields given appear; unrelated extras are not copied into the line."""
    logger, stream = json_log
    logger.info("hello", extra={"job_id": "j", "consumer_secret": SECRET})
    (record,) = lines_of(stream)
    assert record["job_id"] == "j"
    assert "tweet_id" not in record
    assert SECRET not in stream.getvalue()


def test_messages_are_scrubbed(json_log):
    """A credential in the log message does not reach the log line."""
    logger, stream = json_log
    logger.error("X rejected %s", OAUTH_HEADER)
    output = stream.getvalue()
    for value in (CONSUMER_KEY, ACCESS_TOKEN, SIGNATURE):
        assert value not in output
    assert lines_of(stream)[0]["message"].startswith("X rejected OAuth")


def test_exceptions_are_included_scrubbed_on_the_same_line(json_log):
    """An exception's traceback is in the line's `exception` field, scrubbed."""
    logger, stream = json_log
    try:
        raise RuntimeError(f"password={SECRET}")
    except RuntimeError:
        logger.exception("job failed", extra={"job_id": "j2"})
    (record,) = lines_of(stream)
    assert "RuntimeError" in record["exception"]
    assert SECRET not in stream.getvalue()
    assert record["job_id"] == "j2"


def test_values_that_json_cannot_encode_are_written_as_text(json_log):
    """A non-JSON extra value (an object) does not break the line; it is written as str()."""
    logger, stream = json_log

    class Attempt:
        def __str__(self) -> str:
            return "attempt-3"

    logger.info("x", extra={"attempt": Attempt()})
    assert lines_of(stream)[0]["attempt"] == "attempt-3"


# The fast path skips the patterns when none of _SECRET_WORDS is in an ASCII line: every
# pattern match must contain one of them, in any case, whatever surrounds it.
_FRAGMENTS = ["oauth_", "OAuth_", "bearer ", "Basic ", "gAAAAA", "AAAA", "secret", "TOKEN",
              "password", "passwd", "authorization", "signature", "credential", "credentials",
              "=", ":", " ", "'", '"', ",", "}", "x", "0", "-", "_", "abcdefghijklmnopqrstuvwxyz",
              "0123456789ABCDEFGHIJ", "token_", "key"]


@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=12).map("".join))
def test_every_secret_pattern_match_holds_a_prefilter_word(text: str) -> None:
    for pattern in _SECRET_PATTERNS:
        for match in pattern.finditer(text):
            found = match.group(0).lower()
            assert any(word in found for word in _SECRET_WORDS), (pattern.pattern, found)
