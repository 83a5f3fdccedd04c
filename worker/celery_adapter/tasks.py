"""The Celery tasks: thin. Parse nothing here; hand the raw message to the job service.

Tasks accept any arguments so that a malformed message reaches our validation (and the
dead-letter queue) instead of failing inside Celery with a TypeError.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Task
from celery.exceptions import Reject

from worker.celery_adapter import runtime
from worker.celery_adapter.app import app
from worker.core.observability import DEAD_LETTER_LOGGED

log = logging.getLogger("rtq.tasks")


def _run(task: Task, action: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    try:
        return runtime.service().handle(action, task.request.id or "", args, kwargs).value
    except redis.RedisError as exc:
        # Redis is unreachable: leave the message unacked so it is delivered again once Redis
        # is back (our delivery counter bounds the loop).
        log.warning("job %s: Redis unavailable (%s); requeued", task.request.id,
                    type(exc).__name__)
        raise Reject(f"Redis unavailable: {type(exc).__name__}", requeue=True) from None
    except Exception as exc:
        # A bug, not the job's fault: log it and keep the job in the dead-letter queue rather
        # than acking it into nothing. Its one Sentry event is the dead letter's, which carries
        # this exception (report_dead_letter), so the log line is not sent as a second one.
        log.exception("job %s: internal error", task.request.id,
                      extra={DEAD_LETTER_LOGGED: True})
        return runtime.service().dead_letter_unprocessable(
            action, task.request.id or "", kwargs, exc
        ).value


# No named parameters: a message whose kwargs hold "self" (or anything else) must reach our
# validation, not fail in Celery's call with a TypeError. bind=True passes the task first.
@app.task(name="rtq.retweet", bind=True)
def retweet(*args: Any, **kwargs: Any) -> str:
    return _run(args[0], "retweet", args[1:], kwargs)


@app.task(name="rtq.undo", bind=True)
def undo(*args: Any, **kwargs: Any) -> str:
    return _run(args[0], "undo", args[1:], kwargs)
