"""Our Celery consumer: a message whose body cannot be decoded is dead-lettered, not just
logged and acked into nothing (Celery's default, which also logs the raw body)."""

from __future__ import annotations

import logging
from typing import Any

from celery.worker.consumer import Consumer

from worker.celery_adapter import runtime
from worker.celery_adapter.intake import check_body
from worker.celery_adapter.transport import UNREADABLE_HEADER
from worker.core import clock
from worker.core.keys import Keys
from worker.core.observability import DEAD_LETTER_LOGGED, report_dead_letter
from worker.core.redis_client import connect
from worker.domain.dlq import DeadLetter, DeadLetters, new_entry_id
from worker.domain.job import echo
from worker.domain.messages import TASK_NAMES

_ACTIONS_BY_TASK = {name: action for action, name in TASK_NAMES.items()}

log = logging.getLogger("rtq.worker")


def dead_letter_unreadable(
    job_id: str | None, task: str | None, detail: str, kwargs: dict[str, Any]
) -> DeadLetter:
    """Record a message we could not run; the message itself is not kept (it may hold
    anything, secrets included), only its ids as far as they are short and plain."""
    settings = runtime.settings()
    action = _ACTIONS_BY_TASK.get(task) if isinstance(task, str) else None
    entry = DeadLetter(
        id=new_entry_id(), job_id=job_id, action=action,
        account_id=echo(kwargs.get("account_id")), tweet_id=echo(kwargs.get("tweet_id")),
        reason="malformed_message", http_status=None, detail=detail, attempts=0,
        failed_at=clock.now_iso(),
    )
    client, keys = connect(settings.redis_url), Keys(settings.key_prefix)
    DeadLetters(client, keys, max_entries=settings.dlq_max, ttl=settings.dlq_ttl).add(
        entry, clock.ms(clock.now()))
    client.hincrby(keys.outcomes, "dead", 1)
    report_dead_letter(entry)
    if job_id and action and not client.exists(keys.job(job_id)):
        # So that `rtq status` tells the truth about a job that never reached our task.
        client.hset(keys.job(job_id), mapping={
            "action": action, "account_id": entry.account_id or "",
            "tweet_id": entry.tweet_id or "", "state": "dead", "reason": "malformed_message",
            "detail": detail, "attempts": "0", "created_at": entry.failed_at,
            "updated_at": entry.failed_at,
        })
        client.expire(keys.job(job_id), settings.job_ttl)
    log.error("dead-lettered an unreadable message for task %r (entry %s): %s",
              echo(task), entry.id, detail, extra={DEAD_LETTER_LOGGED: True})
    return entry


class RtqConsumer(Consumer):  # type: ignore[misc]
    """Celery's consumer, except that no message it cannot run is dropped unrecorded, and
    none can stop the worker."""

    def update_strategies(self) -> None:
        super().update_strategies()
        for name in TASK_NAMES.values():
            if name in self.strategies:
                self.strategies[name] = self._guarded(self.strategies[name])

    def _guarded(self, strategy: Any) -> Any:
        """Check a message's body before Celery unpacks it: a body of the wrong shape raises
        inside Celery's strategy, in the main process, and the worker exits."""

        def run(message: Any, payload: Any, ack: Any, reject: Any, callbacks: Any) -> Any:
            try:
                problem = check_body(message.decode())
            except Exception as exc:
                problem = (f"body: cannot be decoded as {echo(message.content_type)} "
                           f"({type(exc).__name__})")
            if problem is not None:
                self._record(message, problem, ack=True)
                return None
            try:
                return strategy(message, payload, ack, reject, callbacks)
            except Exception as exc:
                if _is_celery_handled(exc):
                    raise
                log.exception("a message could not be started")
                self._record(message, f"message: cannot be started ({type(exc).__name__})",
                             ack=True)
                return None

        return run

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        headers = _headers(message)
        problem = headers.get(UNREADABLE_HEADER)
        if not isinstance(problem, str):
            problem = (f"body: cannot be decoded as {echo(message.content_type)} "
                       f"({type(exc).__name__})")
        self._record(message, problem, ack=True)

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        # Celery's own handler logs the whole body, which may hold anything: record the task
        # name and the ids only.
        name = _headers(message).get("task")
        self._record(message, f"task: unknown task name {echo(name)!r}", ack=False,
                     kwargs=_kwargs_of(message))
        message.reject_log_error(log, self.connection_errors)
        if self.event_dispatcher:
            self.event_dispatcher.send("task-failed", uuid=_headers(message).get("id"),
                                       exception=f"NotRegistered({echo(name)!r})")

    def on_unknown_message(self, body: Any, message: Any) -> None:
        self._record(message, "task: the message names no task", ack=False)
        message.reject_log_error(log, self.connection_errors)

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        self._record(message, f"message: invalid task message ({type(exc).__name__})", ack=False)
        message.reject_log_error(log, self.connection_errors)

    def _record(self, message: Any, detail: str, *, ack: bool,
                kwargs: dict[str, Any] | None = None) -> None:
        headers = _headers(message)
        job_id, task = headers.get("id"), headers.get("task")
        try:
            dead_letter_unreadable(
                echo(job_id) if isinstance(job_id, str) else None,
                task if isinstance(task, str) else None, detail, kwargs or {},
            )
        except Exception:
            # Redis is down: leave the message unacked so it comes back after the visibility
            # timeout, rather than dropping it.
            log.exception("could not dead-letter an unreadable message; it will be redelivered")
            return
        if ack:
            message.ack()


def _is_celery_handled(exc: Exception) -> bool:
    """Errors Celery's own handler routes to on_invalid_task / on_decode_error."""
    from celery.exceptions import InvalidTaskError
    from kombu.exceptions import ContentDisallowed, DecodeError

    return isinstance(exc, InvalidTaskError | ContentDisallowed | DecodeError)


def _kwargs_of(message: Any) -> dict[str, Any]:
    try:
        decoded = message.decode()
    except Exception:
        return {}
    if isinstance(decoded, list | tuple) and len(decoded) > 1 and isinstance(decoded[1], dict):
        return decoded[1]
    return {}


def _headers(message: Any) -> dict[str, Any]:
    headers = getattr(message, "headers", None)
    return headers if isinstance(headers, dict) else {}
