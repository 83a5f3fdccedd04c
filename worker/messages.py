"""Celery protocol-2 messages for kombu's Redis transport, built by hand.

Producers and the parking mover write a job's message with one atomic Redis script together with
its intent and status record (so a job is either fully enqueued or not at all, and bulk enqueue
is one round trip per batch). The format is exactly what `app.send_task(name, kwargs=...,
queue="rtq")` writes; `tests/test_messages.py` compares the two.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import uuid

from worker.keys import QUEUE

TASK_NAMES = {"retweet": "rtq.retweet", "undo": "rtq.undo"}
ACTIONS = tuple(TASK_NAMES)
_HOST = socket.gethostname()
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def new_job_id() -> str:
    return str(uuid.uuid4())


def build_message(action: str, job_id: str, account_id: str, tweet_id: str) -> str:
    """The JSON string kombu's Redis transport expects on the `rtq` list."""
    kwargs = {"account_id": account_id, "tweet_id": tweet_id}
    body = json.dumps([[], kwargs, _EMBED], separators=(",", ":")).encode()
    message = {
        "body": base64.b64encode(body).decode("ascii"),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": TASK_NAMES[action],
            "id": job_id,
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": job_id,
            "parent_id": None,
            "argsrepr": "()",
            "kwargsrepr": repr(kwargs),
            "origin": f"gen{os.getpid()}@{_HOST}",
            "ignore_result": True,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
        },
        "properties": {
            "correlation_id": job_id,
            "reply_to": "",
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": QUEUE},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return json.dumps(message, separators=(",", ":"))
