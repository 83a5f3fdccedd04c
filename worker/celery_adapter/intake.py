"""What the worker's main process does with each message as it leaves the queue.

`note_delivery` runs right after kombu's BRPOP, before Celery sees the message: it marks our
producers' jobs as delivered and orders messages no producer of ours wrote (`deliver.lua` says
why that ordering is exact for a FIFO queue). `check_body` says what is wrong with a task body
before Celery unpacks it (Celery's own unpacking error would stop the worker).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis
from redis.commands.core import Script

from worker.celery_adapter import runtime
from worker.core import clock
from worker.core.ids import InvalidId, parse_id
from worker.core.keys import Keys
from worker.core.redis_client import connect
from worker.domain.deadlines import header_deadline_ms
from worker.domain.messages import TASK_NAMES, body_text
from worker.domain.scripts import Scripts
from worker.domain.scripts.contract import call_of
from worker.domain.scripts.queueing import DeliverInput

log = logging.getLogger("rtq.worker")
_ACTIONS_BY_TASK = {name: action for action, name in TASK_NAMES.items()}
_state: dict[str, Any] = {}


def check_body(body: Any) -> str | None:
    """None if `body` is a protocol-2 task body `[args, kwargs, embed]`, else the problem."""
    if not isinstance(body, list | tuple) or len(body) != 3:
        return "body: expected [args, kwargs, embed]"
    args, kwargs, embed = body
    if not isinstance(args, list | tuple):
        return "body: args must be a list"
    if not isinstance(kwargs, dict):
        return "body: kwargs must be an object"
    if embed is not None and not isinstance(embed, dict):
        return "body: embed must be an object"
    if "self" in kwargs:
        # Celery's own call wrapper takes `self`: such a message would fail before our task.
        return "self: unexpected keyword argument (only account_id, tweet_id)"
    return None


def note_delivery(message: dict[str, Any]) -> None:
    """Record that a message of ours left the queue. Never raises: a message we cannot read
    here is handled (dead-lettered) further on."""
    call = delivery_call(message)
    if call is None:
        return
    keys, args = call
    try:
        _context()[1].deliver(keys=keys, args=args)
    except redis.RedisError as exc:
        warn_undelivered(exc)


def delivery_call(message: dict[str, Any]) -> tuple[list[str], list[Any]] | None:
    """deliver.lua's keys and arguments for `message`, or None if it is not one of ours to
    note. (The transport runs the call in the MULTI of kombu's unacked bookkeeping.)"""
    try:
        headers = message.get("headers") or {}
        task = headers.get("task")
        action = _ACTIONS_BY_TASK.get(task) if isinstance(task, str) else None
        job_id = headers.get("id")
        if action is None or not isinstance(job_id, str) or len(job_id) > 128:
            return None
        body = json.loads(body_text(message))
        if check_body(body) is not None or body[0]:
            return None
        kwargs = body[1]
        account_id = parse_id(kwargs.get("account_id"))
        tweet_id = parse_id(kwargs.get("tweet_id"))
    except (InvalidId, ValueError, TypeError, KeyError, AttributeError):
        return None
    keys, _, ttl = _context()
    now = clock.now()
    # A raw message's deadline: its Celery `expires`, else RTQ_JOB_MAX_DELAY from now (when
    # rtq first sees it: it has no enqueue time of ours).
    expires_ms = header_deadline_ms(headers.get("expires"))
    max_delay = _state["max_delay"]
    if expires_ms is None and max_delay is not None:
        expires_ms = clock.ms(now + max_delay)
    if expires_ms is not None:
        # The record must outlive the deadline, to say `expired` at it.
        ttl = max(ttl, (expires_ms - clock.ms(now)) // 1000 + 60)
    call = call_of(DeliverInput(
        job=keys.job(job_id), intent=keys.intent(account_id, tweet_id), seq=keys.seq,
        lane_count=keys.lane_count(account_id), account_jobs=keys.account_jobs(account_id),
        deadlines=keys.deadlines, job_id=job_id, action=action, account_id=account_id,
        tweet_id=tweet_id, now_iso=clock.iso(now), job_ttl=ttl, job_key_prefix=keys.job(""),
        now_ms=clock.ms(now), expires_ms=expires_ms))
    return call.keys, list(call.args)


def deliver_script() -> Script:
    """deliver.lua, registered on the worker's own Redis client."""
    return _context()[1].deliver


def warn_undelivered(exc: Exception) -> None:
    # begin.lua registers the message instead, at the price of ordering it by receipt.
    log.warning("could not note a delivery (%s)", type(exc).__name__)


def _context() -> tuple[Keys, Scripts, int]:
    if not _state:
        settings = runtime.settings()
        _state.update(keys=Keys(settings.key_prefix),
                      scripts=Scripts(connect(settings.redis_url)), ttl=settings.job_ttl,
                      max_delay=settings.job_max_delay)
    return _state["keys"], _state["scripts"], _state["ttl"]
