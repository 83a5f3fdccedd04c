"""Malformed messages never crash a worker and never vanish: they are dead-lettered with their
reason, and the worker goes on serving."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
import redis
from kombu import Connection
from kombu.common import ignore_errors

from tests.support import Rtq, wait_for
from worker.celery_adapter.transport import Transport
from worker.domain.messages import build_message

pytestmark = pytest.mark.usefixtures("worker")


def _assert_worker_still_serves(rtq: Rtq) -> None:
    account = rtq.add_account()
    (status,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", account.account_id, "777"))
    assert status.state == "succeeded"


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        ((), {"account_id": "1"}, "tweet_id"),
        ((), {"tweet_id": "1"}, "account_id"),
        ((), {"account_id": 1, "tweet_id": "2"}, "account_id"),
        ((), {"account_id": "1", "tweet_id": ["2"]}, "tweet_id"),
        ((), {"account_id": "1", "tweet_id": None}, "tweet_id"),
        ((), {"account_id": "1x", "tweet_id": "2"}, "account_id"),
        ((), {"account_id": "1", "tweet_id": "٣"}, "tweet_id"),
        ((), {"account_id": "1", "tweet_id": "1" * 20}, "tweet_id"),
        ((), {"account_id": "1", "tweet_id": "https://x.com/a/status/2"}, "tweet_id"),
        (("1", "2"), {}, "args"),
        ((), {"account_id": "1", "tweet_id": "2", "priority": "high"}, "priority"),
    ],
)
def test_malformed_messages_are_dead_lettered_with_the_field(
    rtq: Rtq, args: tuple[Any, ...], kwargs: dict[str, Any], field: str
) -> None:
    """Missing, extra, non-string or non-digit ids and positional args: malformed_message."""
    job_id = rtq.send_task("rtq.retweet", args=args, kwargs=kwargs)
    (status,) = rtq.wait_terminal(job_id)
    assert (status.state, status.reason) == ("dead", "malformed_message")
    (entry,) = rtq.dead_letters.list()
    assert entry.job_id == job_id and entry.reason == "malformed_message"
    assert entry.detail.startswith(f"{field}: ")
    assert entry.http_status is None and entry.attempts == 0
    assert rtq.admin.calls() == []
    _assert_worker_still_serves(rtq)


def test_an_extra_argument_value_is_never_stored(rtq: Rtq) -> None:
    """A stray secret in a message's kwargs is named, never kept."""
    secret = "s3cr3t-" + uuid.uuid4().hex
    job_id = rtq.send_task("rtq.undo", kwargs={"account_id": "1", "tweet_id": "2",
                                               "access_token_secret": secret})
    rtq.wait_terminal(job_id)
    (entry,) = rtq.dead_letters.list()
    assert entry.detail.startswith("access_token_secret: unexpected")
    assert secret not in entry.to_json()
    assert not any(secret in str(v) for v in rtq.redis.hgetall(f"rtq:job:{job_id}").values())


def test_an_unknown_account_is_dead_lettered_as_unknown_account(rtq: Rtq) -> None:
    """A well-formed message for an account rtq has no credentials for."""
    job_id = rtq.send_task("rtq.retweet", kwargs={"account_id": "999", "tweet_id": "2"})
    (status,) = rtq.wait_terminal(job_id)
    assert (status.state, status.reason) == ("dead", "unknown_account")
    (entry,) = rtq.dead_letters.list()
    assert (entry.reason, entry.account_id, entry.tweet_id) == ("unknown_account", "999", "2")
    assert rtq.admin.calls() == []
    _assert_worker_still_serves(rtq)


def test_an_unknown_task_name_on_our_queue_is_dead_lettered(rtq: Rtq) -> None:
    """`rtq.frobnicate` is not a task of ours: kept as malformed_message, not dropped."""
    job_id = rtq.send_task("rtq.frobnicate", kwargs={"account_id": "1", "tweet_id": "2"})
    entry = wait_for(rtq.dead_letters.list, 20, "a dead letter")[0]
    assert (entry.job_id, entry.reason) == (job_id, "malformed_message")
    assert "rtq.frobnicate" in entry.detail
    _assert_worker_still_serves(rtq)


def _with_body(message: dict[str, Any], text: str, encoding: str) -> dict[str, Any]:
    """`message` with `text` as its body: plain (rtq's lean messages) or base64 (send_task's)."""
    if encoding == "base64":
        message["properties"]["body_encoding"] = "base64"
        message["body"] = base64.b64encode(text.encode()).decode()
    else:
        message["body"] = text
    return message


@pytest.mark.parametrize("encoding", ["plain", "base64"])
def test_a_message_whose_body_is_not_json_is_dead_lettered(rtq: Rtq, encoding: str) -> None:
    """A message with a body that cannot be decoded is kept with its reason."""
    message = _with_body(json.loads(build_message("retweet", str(uuid.uuid4()), "1", "2")),
                         "{not json", encoding)
    rtq.redis.lpush(rtq.settings.queue_key, json.dumps(message))
    entry = wait_for(rtq.dead_letters.list, 20, "a dead letter")[0]
    assert entry.reason == "malformed_message"
    assert entry.job_id == message["headers"]["id"]
    _assert_worker_still_serves(rtq)


def test_garbage_on_the_queue_does_not_stop_the_worker(rtq: Rtq) -> None:
    """Bytes that are not a kombu message at all: recorded, and the worker keeps serving."""
    rtq.redis.lpush(rtq.settings.queue_key, "this is not a message")
    entry = wait_for(rtq.dead_letters.list, 20, "a dead letter")[0]
    assert entry.reason == "malformed_message" and entry.job_id is None
    _assert_worker_still_serves(rtq)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"account_id": "1", "tweet_id": "2"}, "body: expected [args, kwargs, embed]"),
        ([[], {"account_id": "1", "tweet_id": "2"}], "body: expected [args, kwargs, embed]"),
        ("hello", "body: expected [args, kwargs, embed]"),
        ([[], "notadict", {}], "body: kwargs must be an object"),
        (["x", {}, {}], "body: args must be a list"),
    ],
)
def test_a_body_of_the_wrong_shape_is_dead_lettered_not_fatal(
    rtq: Rtq, body: Any, problem: str
) -> None:
    """Celery unpacks bodies in the worker's main process: a wrong shape used to stop it."""
    job_id = str(uuid.uuid4())
    message = _with_body(json.loads(build_message("retweet", job_id, "1", "2")),
                         json.dumps(body), "plain")
    rtq.redis.lpush(rtq.settings.queue_key, json.dumps(message))
    (entry,) = wait_for(rtq.dead_letters.list, 20, "a dead letter")
    assert (entry.job_id, entry.reason, entry.detail) == (job_id, "malformed_message", problem)
    _assert_worker_still_serves(rtq)


def test_a_self_keyword_argument_is_malformed_not_a_crash(rtq: Rtq) -> None:
    """kwargs holding "self" reach our validation (no TypeError inside Celery)."""
    job_id = rtq.send_task("rtq.retweet", kwargs={"account_id": "1", "tweet_id": "2",
                                                  "self": "x"})
    (status,) = rtq.wait_terminal(job_id)
    assert (status.state, status.reason) == ("dead", "malformed_message")
    assert rtq.dead_letters.list()[0].detail.startswith("self: unexpected")


def test_a_reused_job_id_does_not_touch_the_other_jobs_record(rtq: Rtq) -> None:
    """A message reusing a finished job's id for another tweet is dead-lettered on its own."""
    account = rtq.add_account()
    job_id = rtq.producer.enqueue("retweet", account.account_id, "20")
    assert rtq.wait_terminal(job_id)[0].state == "succeeded"
    rtq.send_task("rtq.retweet", kwargs={"account_id": account.account_id, "tweet_id": "21"},
                  task_id=job_id)
    (entry,) = wait_for(rtq.dead_letters.list, 20, "a dead letter")
    assert entry.reason == "malformed_message" and "different job" in entry.detail
    status = rtq.status(job_id)
    assert (status.state, status.tweet_id) == ("succeeded", "20")


def test_a_channel_closed_after_its_connection_reports_a_connection_error(rtq: Rtq) -> None:
    """Redis goes away mid-delivery and Celery closes a channel of an already closed connection
    (kombu has dropped the transport's client): restoring its unacked message must fail as a
    connection error, which Celery handles by reconnecting, not with AttributeError, which
    stops the worker ("Unrecoverable error")."""
    connection = Connection(rtq.settings.redis_url, transport=Transport)
    channel = connection.default_channel
    channel.qos._delivered["tag-1"] = object()  # a message handed to Celery, not yet acked
    channel._disconnect_pools()  # as Channel.close does before restoring
    connection.transport.client = None  # as Connection._do_close_transport does
    with pytest.raises(redis.exceptions.ConnectionError, match="connection is closed"):
        channel.qos.restore_unacked()
    # What Celery does with the channel on a lost connection (ignore_errors): no exception.
    ignore_errors(connection, channel.close)
