"""Worker lifecycle hooks: validate settings at start, run the parking mover, and dead-letter
messages Celery itself cannot route to a task."""

from __future__ import annotations

import logging
from typing import Any

from celery import bootsteps, signals

from worker import clock, runtime
from worker.celery_app import app
from worker.dlq import DeadLetter, DeadLetters, new_entry_id
from worker.keys import Keys
from worker.observability import setup_logging, setup_sentry
from worker.parking import Mover, MoverThread
from worker.redis_client import connect
from worker.service import echo

log = logging.getLogger("rtq.worker")


@signals.worker_init.connect
def _validate_settings(**_: Any) -> None:
    """Fail at start-up, naming the variable, rather than on the first job."""
    settings = runtime.settings()
    settings.require_secret_keys()
    setup_sentry(settings)


@signals.after_setup_logger.connect
def _configure_logging(logger: logging.Logger, **_: Any) -> None:
    setup_logging(runtime.settings(), logger)


@signals.worker_process_init.connect
def _init_pool_process(**_: Any) -> None:
    setup_sentry(runtime.settings())


@signals.task_unknown.connect
def _dead_letter_unknown_task(
    message: Any = None, exc: Any = None, name: str | None = None, id: str | None = None, **_: Any
) -> None:
    """A message on our queue for a task we do not have: keep it with its reason."""
    settings = runtime.settings()
    client = connect(settings.redis_url)
    kwargs: dict[str, Any] = {}
    try:
        decoded = message.decode() if message is not None else None
        if isinstance(decoded, list | tuple) and len(decoded) > 1 and isinstance(decoded[1], dict):
            kwargs = decoded[1]
    except Exception:
        kwargs = {}
    entry = DeadLetter(
        id=new_entry_id(), job_id=id, action=None,
        account_id=echo(kwargs.get("account_id")), tweet_id=echo(kwargs.get("tweet_id")),
        reason="malformed_message", http_status=None,
        detail=f"task: unknown task name {echo(name)!r}", attempts=0, failed_at=clock.now_iso(),
    )
    DeadLetters(client, Keys(settings.key_prefix)).add(entry, clock.ms(clock.now()))
    log.error("dead-lettered a message for unknown task %r (entry %s)", echo(name), entry.id)


class ParkingMoverStep(bootsteps.StartStopStep):
    """Runs the parking mover in the worker's main process while it consumes."""

    requires = {"celery.worker.components:Pool"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.thread: MoverThread | None = None

    def start(self, worker: Any) -> None:
        settings = runtime.settings()
        mover = Mover(connect(settings.redis_url), Keys(settings.key_prefix), settings.queue)
        self.thread = MoverThread(mover)
        self.thread.start()

    def stop(self, worker: Any) -> None:
        if self.thread is not None:
            self.thread.stop()
            self.thread.join(timeout=5)


app.steps["worker"].add(ParkingMoverStep)
