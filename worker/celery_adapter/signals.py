"""Worker lifecycle hooks: validate settings at start, set up logging and Sentry, run the
parking mover, and give the event loop the lean timer schedule (schedule.py)."""

from __future__ import annotations

import logging
from typing import Any

from celery import bootsteps, signals

from worker.celery_adapter import runtime
from worker.celery_adapter.app import app
from worker.celery_adapter.schedule import LeanScheduleStep
from worker.celery_adapter.worker_output import prepare_worker_output, setup_worker_sentry
from worker.core.keys import Keys
from worker.core.observability import setup_logging
from worker.core.redis_client import connect
from worker.domain.dlq import DeadLetters
from worker.domain.parking import Mover, MoverThread

log = logging.getLogger("rtq.worker")


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


class ParkingMoverStep(bootsteps.StartStopStep):
    """Runs the parking mover in the worker's main process while it consumes."""

    requires = {"celery.worker.components:Pool"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.thread: MoverThread | None = None

    def start(self, worker: Any) -> None:
        settings = runtime.settings()
        client, keys = connect(settings.redis_url), Keys(settings.key_prefix)
        mover = Mover(client, keys, settings.queue_key, (settings.rate_limit, settings.rate_window))
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
