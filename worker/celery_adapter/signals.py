"""Worker lifecycle hooks: validate settings at start, set up logging and Sentry, run the
parking mover, give the event loop the lean timer schedule (schedule.py), and record the jobs
Celery drops as expired."""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import bootsteps, signals

from worker.celery_adapter import runtime
from worker.celery_adapter.app import app
from worker.celery_adapter.schedule import LeanScheduleStep
from worker.celery_adapter.worker_output import prepare_worker_output, setup_worker_sentry
from worker.core.keys import Keys
from worker.core.observability import setup_logging
from worker.core.redis_client import connect
from worker.domain.deadlines import Deadlines
from worker.domain.dlq import DeadLetters
from worker.domain.job import JOB_ID_RE
from worker.domain.parking import Mover, MoverThread

log = logging.getLogger("rtq.worker")
_deadlines: list[Deadlines] = []


@signals.worker_init.connect
def _validate_settings(**_: Any) -> None:
    """Fail at start-up, naming the variable, rather than on the first job."""
    settings = runtime.settings()
    settings.require_secret_keys()
    setup_worker_sentry(settings)


@signals.celeryd_init.connect
def _prepare_output(instance: Any, **_: Any) -> None:
    """Before Celery prints its banner or warns: keep a JSON log all JSON (RTQ_LOG_FORMAT)."""
    prepare_worker_output(runtime.settings(), instance)


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _configure_logging(logger: logging.Logger, **_: Any) -> None:
    setup_logging(runtime.settings(), logger)


@signals.worker_process_init.connect
def _init_pool_process(**_: Any) -> None:
    setup_worker_sentry(runtime.settings())


@signals.task_revoked.connect
def _record_expired(request: Any = None, expired: bool = False, **_: Any) -> None:
    """Celery drops (and acks) a message whose `expires` has passed before our task runs (in
    this, the main process): its job must still end `expired` in its record and the counts,
    not vanish. deliver.lua recorded it, and its deadline, as the message left the queue; if
    this fails, the mover's sweep expires it from there."""
    job_id = getattr(request, "id", None)
    if not expired or not isinstance(job_id, str) or not JOB_ID_RE.fullmatch(job_id):
        return
    try:
        if not _deadlines:
            settings = runtime.settings()
            _deadlines.append(Deadlines(connect(settings.redis_url),
                                        Keys(settings.key_prefix), settings.job_ttl))
        done = _deadlines[0].expire_now(job_id)
    except redis.RedisError as exc:
        log.warning("job %s: Celery dropped it as expired; recording that failed (%s), the "
                    "deadline sweep will", job_id, type(exc).__name__)
        return
    log.info("job %s expired (its message's expires passed before it started)%s", job_id,
             "" if done else ": already finished, running, or never recorded",
             extra={"job_id": job_id, "outcome": "expired"})


class ParkingMoverStep(bootsteps.StartStopStep):
    """Runs the parking mover in the worker's main process while it consumes."""

    requires = {"celery.worker.components:Pool"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.thread: MoverThread | None = None

    def start(self, worker: Any) -> None:
        settings = runtime.settings()
        client, keys = connect(settings.redis_url), Keys(settings.key_prefix)
        mover = Mover(client, keys, settings.queue_key, (settings.rate_limit, settings.rate_window),
                      job_ttl=settings.job_ttl)
        dead_letters = DeadLetters(client, keys, max_entries=settings.dlq_max,
                                   ttl=settings.dlq_ttl)
        self.thread = MoverThread(mover, heartbeat=(client, keys, worker.hostname),
                                  housekeeping=dead_letters.trim)
        self.thread.start()

    def stop(self, worker: Any) -> None:
        if self.thread is not None:
            self.thread.stop()
            self.thread.join(timeout=5)


app.steps["worker"].add(ParkingMoverStep)
app.steps["worker"].add(LeanScheduleStep)
