"""Celery protocol-2 messages for kombu's Redis transport, built by hand.

Producers and the parking mover write a job's message with one atomic Redis script together with
its intent and status record (so a job is either fully enqueued or not at all, and bulk enqueue
is one round trip per batch). The format is exactly what `app.send_task(name, kwargs=...,
queue="rtq")` writes; `tests/unit/test_message_format_unit.py` compares the two.

Messages are filled into a template (the constant parts serialised once per process) rather
than serialised whole for every job: bulk enqueue builds 100,000 of them.
"""

from __future__ import annotations

import base64
import json
import os
import socket
from functools import cache
from json.encoder import encode_basestring_ascii

from worker.keys import QUEUE

TASK_NAMES = {"retweet": "rtq.retweet", "undo": "rtq.undo"}
ACTIONS = tuple(TASK_NAMES)
_HOST = socket.gethostname()
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
_EMBED_JSON = json.dumps(_EMBED, separators=(",", ":"))
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


@cache
def _template(pid: int) -> str:
    """The message with %(slot)s placeholders, for this process (`origin` names it)."""
    message = {
        "body": "\0body",
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": "\0task",
            "id": "\0id",
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": "\0id",
            "parent_id": None,
            "argsrepr": "()",
            "kwargsrepr": "\0kwargsrepr",
            "origin": f"gen{pid}@{_HOST}",
            "ignore_result": True,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
        },
        "properties": {
            "correlation_id": "\0id",
            "reply_to": "",
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": QUEUE},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": "\0tag",
        },
    }
    text = json.dumps(message, separators=(",", ":")).replace("%", "%%")
    for slot in _SLOTS:
        text = text.replace(f'"\\u0000{slot}"', f"%({slot})s")
    return text


def build_message(action: str, job_id: str, account_id: str, tweet_id: str,
                  delivery_tag: str | None = None) -> str:
    """The JSON string kombu's Redis transport expects on the `rtq` list."""
    kwargs = {"account_id": account_id, "tweet_id": tweet_id}
    if _plain(account_id) and _plain(tweet_id):  # validated ids: nothing to escape
        body = (f'[[],{{"account_id":"{account_id}","tweet_id":"{tweet_id}"}},{_EMBED_JSON}]'
                ).encode()
        kwargsrepr = f"\"{{'account_id': '{account_id}', 'tweet_id': '{tweet_id}'}}\""
    else:
        body = json.dumps([[], kwargs, _EMBED], separators=(",", ":")).encode()
        kwargsrepr = encode_basestring_ascii(repr(kwargs))
    return _template(os.getpid()) % {
        "body": '"' + base64.b64encode(body).decode("ascii") + '"',
        "task": '"' + TASK_NAMES[action] + '"',
        "id": encode_basestring_ascii(job_id),
        "kwargsrepr": kwargsrepr,
        "tag": '"' + (delivery_tag or new_job_id()) + '"',
    }


def _plain(value: object) -> bool:
    return isinstance(value, str) and value.isascii() and value.isdigit()
