"""`worker.messages.build_message` against what Celery itself builds for the same task."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from celery import Celery
from celery.utils.nodenames import anon_nodename
from kombu.serialization import dumps as kombu_dumps

from worker.messages import ACTIONS, TASK_NAMES, build_message, new_job_id

ACCOUNT_ID = "7588892"
TWEET_ID = "1234567890123456789"


@pytest.fixture(scope="module")
def celery_app() -> Celery:
    app = Celery("t", broker="memory://", set_as_current=False)
    app.conf.task_serializer = "json"
    app.conf.accept_content = ["json"]
    return app


def ours(action: str = "retweet", job_id: str = "job-1") -> dict[str, Any]:
    return json.loads(build_message(action, job_id, ACCOUNT_ID, TWEET_ID))


def celerys(app: Celery, action: str = "retweet", job_id: str = "job-1", **options: Any):
    kwargs = {"account_id": ACCOUNT_ID, "tweet_id": TWEET_ID}
    return app.amqp.as_task_v2(job_id, TASK_NAMES[action], args=(), kwargs=kwargs, **options)


def decoded_body(message: dict[str, Any]) -> Any:
    assert message["properties"]["body_encoding"] == "base64"
    return json.loads(base64.b64decode(message["body"]))


@pytest.mark.parametrize("action", ACTIONS)
def test_header_names_are_exactly_celerys(celery_app, action):
    """Our headers have the same names as Celery's protocol-2 headers, no more, no fewer."""
    assert set(ours(action)["headers"]) == set(celerys(celery_app, action).headers)


@pytest.mark.parametrize("action", ACTIONS)
def test_header_values_match_celerys_apart_from_origin(celery_app, action):
    """Every header value equals Celery's for the same task id, name and kwargs."""
    # Given Celery's message for the same job, with results ignored as rtq configures
    expected = dict(celerys(celery_app, action, "job-42", ignore_result=True).headers)
    actual = ours(action, "job-42")["headers"]
    # Then only `origin` (a node name, checked separately) may differ
    expected.pop("origin")
    actual.pop("origin")
    assert actual == json.loads(json.dumps(expected))


def test_origin_header_names_a_process_on_this_host():
    """`origin` is `<something><pid>@<hostname>`, like Celery's node names."""
    origin = ours()["headers"]["origin"]
    celery_host = anon_nodename().split("@", 1)[1]
    assert origin.endswith(f"@{celery_host}")


def test_origin_header_equals_celerys():
    """The `origin` header is the same anonymous node name Celery would write."""
    assert ours()["headers"]["origin"] == anon_nodename()


@pytest.mark.parametrize("action", ACTIONS)
def test_body_decodes_to_celerys_args_kwargs_embed_triple(celery_app, action):
    """The base64 body is the JSON `[[], kwargs, embed]` Celery serialises for the task."""
    message = celerys(celery_app, action, "job-7")
    content_type, encoding, data = kombu_dumps(message.body, serializer="json")
    assert decoded_body(ours(action, "job-7")) == json.loads(data)
    assert decoded_body(ours(action, "job-7")) == [
        [], {"account_id": ACCOUNT_ID, "tweet_id": TWEET_ID},
        {"callbacks": None, "errbacks": None, "chain": None, "chord": None},
    ]
    assert (content_type, encoding) == ("application/json", "utf-8")


def test_content_type_and_encoding_are_json_utf8():
    """The message declares `application/json` in utf-8, as Celery's json serializer does."""
    message = ours()
    assert message["content-type"] == "application/json"
    assert message["content-encoding"] == "utf-8"


def test_properties_route_to_the_rtq_queue_and_correlate_with_the_job():
    """delivery_info routes to `rtq` on the default exchange; correlation_id is the job id."""
    job_id = new_job_id()
    properties = ours("undo", job_id)["properties"]
    assert properties["delivery_info"] == {"exchange": "", "routing_key": "rtq"}
    assert properties["correlation_id"] == job_id
    assert properties["body_encoding"] == "base64"
    assert properties["delivery_mode"] == 2
    assert properties["priority"] == 0


def test_properties_celery_sets_have_celerys_values(celery_app):
    """correlation_id and reply_to are what Celery puts in its task properties."""
    expected = celerys(celery_app, "retweet", "job-9").properties
    actual = ours("retweet", "job-9")["properties"]
    for name, value in expected.items():
        assert actual[name] == value


@pytest.mark.parametrize(("action", "task"), [("retweet", "rtq.retweet"), ("undo", "rtq.undo")])
def test_task_name_follows_the_action(action, task):
    """`retweet` messages run `rtq.retweet`; `undo` messages run `rtq.undo`."""
    assert ours(action)["headers"]["task"] == task


def test_job_id_is_the_task_id_and_the_root_id():
    """The job id is the task id Celery will report, and its own root."""
    job_id = new_job_id()
    headers = ours("retweet", job_id)["headers"]
    assert headers["id"] == job_id
    assert headers["root_id"] == job_id
    assert headers["parent_id"] is None


def test_each_call_gets_a_unique_delivery_tag():
    """Two messages for the same job still get different delivery tags."""
    tags = {ours("retweet", "same-job")["properties"]["delivery_tag"] for _ in range(50)}
    assert len(tags) == 50


def test_new_job_ids_are_unique_uuid_strings():
    """`new_job_id` returns distinct 36-character UUID strings."""
    ids = {new_job_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 36 and i.count("-") == 4 for i in ids)


def test_the_message_is_compact_json_text():
    """`build_message` returns JSON text with no whitespace between tokens."""
    text = build_message("retweet", "job-1", ACCOUNT_ID, TWEET_ID)
    assert isinstance(text, str)
    assert text == json.dumps(json.loads(text), separators=(",", ":"))
