"""Celery protocol-2 messages for kombu's Redis transport, built by hand.

Producers and the parking mover write a job's message with one atomic Redis script together with
its intent and status record (so a job is either fully enqueued or not at all, and bulk enqueue
is one round trip per batch).

The message is a lean protocol-2 message: it runs exactly as the one `app.send_task(name,
kwargs=..., queue="rtq")` writes, but carries only what its readers use, because a queued job's
message is most of the Redis memory it takes:
- the body is the JSON text itself: kombu's virtual transport decodes a body without
  `body_encoding` as it is (send_task's is base64, a third longer);
- headers: `task` and `id`, which Celery's worker requires, and `argsrepr`/`kwargsrepr`, which
  its task-received event (so Flower) shows. Every other header send_task writes is read with a
  default equal to send_task's value (`retries` 0, `eta`/`expires`/`timelimit`/`group`/... None,
  `ignore_result` the app's `task_ignore_result`), or not read at all (`lang`, `origin`);
- properties: `delivery_tag` (kombu's ack and unacked restore: any string unique among
  messages in flight, here 64 random bits), `delivery_info` (where restore puts the message
  back) and `priority`; `correlation_id`/`reply_to` serve result replies, which rtq has none of;
- `content-type` application/json; no `content-encoding`, which kombu reads as utf-8;
- embed (callbacks, chain, chord) `{}`, which Celery reads as none (not null: a failure
  reported by the parent process reads `embed.get("chord")`).
Full send_task messages (any client, any language) are read as well; rtq's own readers
(`worker.celery_adapter.intake`) accept both. `tests/domain/test_message_format_unit.py` checks
that Celery reads the two alike.

Messages are filled into a template (the constant parts serialised once per process) rather
than serialised whole for every job: bulk enqueue builds 100,000 of them.
"""

from __future__ import annotations

import base64
import json
import os
from functools import cache
from json.encoder import encode_basestring_ascii
from typing import Any

from worker.core.keys import QUEUE

TASK_NAMES = {"retweet": "rtq.retweet", "undo": "rtq.undo"}
ACTIONS = tuple(TASK_NAMES)
# Placeholders in the template; none can occur in the constant parts.
_SLOTS = ("body", "task", "id", "kwargsrepr", "tag")


def new_job_id() -> str:
    return new_job_ids(1)[0]


def new_job_ids(count: int) -> list[str]:
    """`count` random (version 4) UUID strings, from one read of the OS's random source: one
    `uuid.uuid4()` per job costs a system call each, which bulk enqueue notices."""
    raw = os.urandom(16 * count).hex()
    ids = []
    for start in range(0, 32 * count, 32):
        h = raw[start:start + 32]
        ids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-"
                   f"{h[20:]}")
    return ids


def new_delivery_tags(count: int) -> list[str]:
    """`count` kombu delivery tags (16 hex digits each), from one read of the OS's random
    source. A tag keys kombu's `unacked` hash, so it need only be unique among the messages
    delivered and not yet acked (workers x prefetch: hundreds, thousands at most): with 64
    random bits two of 10,000 collide with a chance of about 3 in 10^12."""
    raw = os.urandom(8 * count).hex()
    return [raw[start:start + 16] for start in range(0, 16 * count, 16)]


@cache
def _template(queue: str) -> str:
    """The message with %(slot)s placeholders."""
    message = {
        "body": "\0body",
        "content-type": "application/json",
        "headers": {
            "task": "\0task",
            "id": "\0id",
            "argsrepr": "()",
            "kwargsrepr": "\0kwargsrepr",
        },
        "properties": {
            "delivery_tag": "\0tag",
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
        },
    }
    text = json.dumps(message, separators=(",", ":")).replace("%", "%%")
    for slot in _SLOTS:
        text = text.replace(f'"\\u0000{slot}"', f"%({slot})s")
    return text


def build_message(action: str, job_id: str, account_id: str, tweet_id: str,
                  delivery_tag: str | None = None, *, queue: str = QUEUE) -> str:
    """The JSON string kombu's Redis transport expects on the list of `queue` (RTQ_QUEUE):
    kombu restores an unacked message to the queue its routing key names."""
    if _plain(account_id) and _plain(tweet_id):  # validated ids: nothing to escape
        body = (f'"[[],{{\\"account_id\\":\\"{account_id}\\",\\"tweet_id\\":'
                f'\\"{tweet_id}\\"}},{{}}]"')
        kwargsrepr = f"\"{{'account_id': '{account_id}', 'tweet_id': '{tweet_id}'}}\""
    else:
        kwargs = {"account_id": account_id, "tweet_id": tweet_id}
        body = encode_basestring_ascii(json.dumps([[], kwargs, {}], separators=(",", ":")))
        kwargsrepr = encode_basestring_ascii(repr(kwargs))
    return _template(queue) % {
        "body": body,
        "task": '"' + TASK_NAMES[action] + '"',
        "id": encode_basestring_ascii(job_id),
        "kwargsrepr": kwargsrepr,
        "tag": '"' + (delivery_tag or new_delivery_tags(1)[0]) + '"',
    }


def body_text(message: dict[str, Any]) -> str | bytes:
    """The body of a kombu message from the queue: ours is the JSON text, send_task's is
    base64 (`body_encoding`)."""
    body = message["body"]
    if message.get("properties", {}).get("body_encoding") == "base64":
        return base64.b64decode(body)
    if not isinstance(body, str):
        raise TypeError("body: expected a string")
    return body


def _plain(value: object) -> bool:
    return isinstance(value, str) and value.isascii() and value.isdigit()
