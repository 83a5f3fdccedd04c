"""`worker.domain.messages.build_message` (a lean protocol-2 message) against what Celery's worker
and kombu make of the message `send_task` writes for the same task: they must read the two alike."""

from __future__ import annotations

import json
from typing import Any

import pytest
from celery import Celery
from celery.worker.request import Request
from kombu import Connection
from kombu.transport.virtual import Message

from worker.celery_adapter.intake import check_body
from worker.domain.messages import ACTIONS, TASK_NAMES, body_text, build_message, new_job_id

ACCOUNT_ID = "7588892"
TWEET_ID = "1234567890123456789"


@pytest.fixture(scope="module")
def celery_app() -> Celery:
    """An app configured as rtq's is where it matters (json, results ignored)."""
    app = Celery("t", broker="memory://", set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"], task_ignore_result=True)
    for name in TASK_NAMES.values():
        app.task(name=name, shared=False)(_task)
    app.finalize(auto=True)
    return app


def _task(account_id: str, tweet_id: str) -> None:
    return None


@pytest.fixture(scope="module")
def channel(celery_app: Celery) -> Any:
    """A kombu virtual-transport channel: the same Message class and body decoding as Redis."""
    connection = Connection("memory://")
    yield connection.default_channel
    connection.release()


def ours(action: str = "retweet", job_id: str = "job-1") -> dict[str, Any]:
    return json.loads(build_message(action, job_id, ACCOUNT_ID, TWEET_ID))


def send_tasks(app: Celery, action: str = "retweet", job_id: str = "job-1") -> dict[str, Any]:
    """The raw message `send_task` puts on a kombu virtual queue."""
    app.send_task(TASK_NAMES[action], kwargs={"account_id": ACCOUNT_ID, "tweet_id": TWEET_ID},
                  queue="rtq", task_id=job_id)
    with app.connection_for_read() as connection:
        message = connection.default_channel.basic_get("rtq", no_ack=True)
    assert message is not None
    raw: dict[str, Any] = message._raw
    return raw


def request(app: Celery, channel: Any, raw: dict[str, Any]) -> Request:
    message = Message(json.loads(json.dumps(raw)), channel=channel)
    return Request(message, app=app, task=app.tasks[message.headers["task"]])


def as_worker_sees_it(req: Request) -> dict[str, Any]:
    """Everything Celery's worker takes from a task message to run it and report it."""
    return {
        "id": req.id, "name": req.name, "args": req.args, "kwargs": req.kwargs,
        "eta": req.eta, "expires": req.expires, "time_limits": tuple(req.time_limits),
        "ignore_result": req.ignore_result, "argsrepr": req.argsrepr,
        "kwargsrepr": req.kwargsrepr, "retries": req.request_dict.get("retries", 0),
        "delivery_info": req.delivery_info, "group": req.group, "chord": req.chord,
        "replaced_task_nesting": req.replaced_task_nesting, "stamps": req.stamps,
        "callbacks": req.request_dict.get("callbacks"), "chain": req.request_dict.get("chain"),
        "content_type": req.content_type,
        # kombu reads a message without content-encoding as utf-8
        "content_encoding": req.content_encoding or "utf-8",
    }


@pytest.mark.parametrize("action", ACTIONS)
def test_celery_reads_our_message_as_it_reads_send_tasks(celery_app, channel, action):
    """Task name, id, kwargs, retries, ETA, limits, results, events' reprs, delivery info:
    the worker's Request is the same for our message as for send_task's."""
    theirs = as_worker_sees_it(request(celery_app, channel, send_tasks(celery_app, action, "j-7")))
    mine = as_worker_sees_it(request(celery_app, channel, ours(action, "j-7")))
    assert mine == theirs
    assert mine["name"] == TASK_NAMES[action] and mine["id"] == "j-7"
    assert mine["args"] == [] and mine["kwargs"] == {"account_id": ACCOUNT_ID,
                                                     "tweet_id": TWEET_ID}


def test_headers_left_out_are_read_with_send_tasks_values(celery_app, channel):
    """Every header send_task writes and we leave out is one rtq never reads and Celery
    reads with a default equal to send_task's value, or names the root (a job is its own; the
    task-sent event still says so) or the sending node."""
    theirs = send_tasks(celery_app, "retweet", "j-8")
    left_out = set(theirs["headers"]) - set(ours()["headers"])
    assert left_out == {"lang", "shadow", "eta", "expires", "group", "group_index", "retries",
                        "timelimit", "root_id", "parent_id", "origin", "ignore_result",
                        "replaced_task_nesting", "stamped_headers", "stamps"}
    defaults = {"shadow": None, "eta": None, "expires": None, "group": None,
                "group_index": None, "retries": 0, "timelimit": [None, None],
                "parent_id": None, "ignore_result": None, "replaced_task_nesting": 0,
                "stamped_headers": None, "stamps": {}}
    assert {k: theirs["headers"][k] for k in defaults} == defaults


def test_kombu_restores_our_message_unchanged(channel):
    """After a worker is lost, kombu's Redis transport pushes back the raw payload it kept in
    its unacked hash, flagged as redelivered: the same body, headers and routing."""
    from kombu.transport.redis import Channel as RedisChannel
    from kombu.utils.json import dumps, loads

    from worker.celery_adapter.transport import read_entry

    raw = ours("undo", "j-9")
    kept = loads(dumps([raw, "", "rtq"]))  # what QoS.append stores, as restore_by_tag reads it

    class Pipe:
        pushed: list[str] = []

        def rpush(self, key: str, value: str) -> None:
            self.pushed.append(value)

    fake = type("FakeChannel", (), {"_lookup": lambda self, ex, rk: ["rtq"],
                                     "_get_message_priority": RedisChannel._get_message_priority,
                                     "_q_for_pri": lambda self, q, pri: q,
                                     "max_priority": 9, "min_priority": 0,
                                     "default_priority": 0, "connection_errors": ()})()
    RedisChannel._do_restore_message(fake, kept[0], kept[1], kept[2], Pipe())
    (requeued,) = Pipe.pushed
    again = read_entry(requeued, "rtq")
    assert again["body"] == raw["body"]
    assert again["properties"]["delivery_info"]["redelivered"] is True
    assert {k: v for k, v in again["headers"].items() if k != "redelivered"} == raw["headers"]
    assert Message(again, channel=channel).decode() == Message(raw, channel=channel).decode()


def test_the_body_is_plain_json_text_of_args_kwargs_embed():
    """No base64: kombu decodes a body without `body_encoding` as it is."""
    message = ours()
    assert "body_encoding" not in message["properties"]
    body = json.loads(message["body"])
    assert body == [[], {"account_id": ACCOUNT_ID, "tweet_id": TWEET_ID}, {}]
    assert check_body(body) is None
    assert json.loads(body_text(message)) == body


def test_body_text_reads_send_tasks_base64_body_too(celery_app):
    """rtq's own reader (worker.celery_adapter.intake) accepts full send_task messages unchanged."""
    raw = send_tasks(celery_app, "retweet", "j-10")
    assert raw["properties"]["body_encoding"] == "base64"
    args, kwargs, embed = json.loads(body_text(raw))
    assert (args, kwargs) == ([], {"account_id": ACCOUNT_ID, "tweet_id": TWEET_ID})
    assert embed == {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def test_ids_that_need_escaping_stay_exact():
    """A job id from a foreign client (re-parked by a worker) may hold any character."""
    job_id = 'odd "id" \\ é'
    message = json.loads(build_message("retweet", job_id, "1", "2"))
    assert message["headers"]["id"] == job_id
    assert json.loads(message["body"])[1] == {"account_id": "1", "tweet_id": "2"}


def test_routing_and_delivery_properties_for_kombu():
    """delivery_info routes a restored message back to `rtq`; priority is the default."""
    properties = ours("undo", new_job_id())["properties"]
    assert properties["delivery_info"] == {"exchange": "", "routing_key": "rtq"}
    assert properties["priority"] == 0
    assert set(properties) == {"delivery_tag", "delivery_info", "priority"}


def test_content_type_is_json_and_the_encoding_kombus_default():
    message = ours()
    assert message["content-type"] == "application/json"
    assert "content-encoding" not in message


@pytest.mark.parametrize(("action", "task"), [("retweet", "rtq.retweet"), ("undo", "rtq.undo")])
def test_task_name_follows_the_action(action, task):
    assert ours(action)["headers"]["task"] == task


def test_each_call_gets_a_unique_delivery_tag():
    """Two messages for the same job still get different delivery tags."""
    tags = {ours("retweet", "same-job")["properties"]["delivery_tag"] for _ in range(50)}
    assert len(tags) == 50


def test_new_job_ids_are_unique_uuid_strings():
    """`new_job_id` returns distinct 36-character version-4 UUID strings."""
    import uuid

    ids = {new_job_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(str(uuid.UUID(i)) == i and uuid.UUID(i).version == 4 for i in ids)


def test_the_message_is_compact_json_text():
    """`build_message` returns JSON text with no whitespace between tokens."""
    text = build_message("retweet", "job-1", ACCOUNT_ID, TWEET_ID)
    assert text == json.dumps(json.loads(text), separators=(",", ":"))
