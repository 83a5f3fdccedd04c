"""Celery's side of logging and Sentry: what a worker prints outside logging, Sentry's Celery
integration, and flushing Sentry before a pool process exits. The formatting, scrubbing and
events themselves are `worker.core.observability`'s."""

from __future__ import annotations

import logging
import sys
from typing import Any

from celery import signals
from celery.apps import worker as celery_worker

from worker.core.observability import JsonFormatter, remember_secrets, setup_sentry
from worker.core.settings import Settings


def setup_worker_sentry(settings: Settings) -> None:
    """Sentry with its Celery integration, flushed when a worker or pool process exits."""
    from sentry_sdk.integrations.celery import CeleryIntegration

    if setup_sentry(settings, [CeleryIntegration()]):
        _flush_on_shutdown()


def prepare_worker_output(settings: Settings, worker: Any) -> None:
    """For a worker starting with RTQ_LOG_FORMAT=json (Celery's `celeryd_init`, before it
    checks privileges, prints its banner or installs its signal handlers): nothing it writes
    outside logging may break the one-JSON-object-per-line stream.

    - the banner (printed, not logged) is turned off (`quiet`); its facts are in `rtq stats`
      and Flower;
    - warnings raised before Celery sets up logging (e.g. "running as root") go through
      logging, to a JSON handler on stderr until Celery installs its own;
    - the shutdown notice Celery prints from its SIGTERM/SIGQUIT handlers becomes a JSON line.
    """
    if settings.log_format != "json":
        return
    remember_secrets(settings)
    worker.quiet = True
    logging.captureWarnings(True)
    root = logging.getLogger()
    if not root.handlers:
        early = logging.StreamHandler(sys.stderr)
        early.setFormatter(JsonFormatter())
        root.addHandler(early)
    install_platform_tweaks = worker.install_platform_tweaks

    def quiet_platform_tweaks(target: Any) -> None:
        install_platform_tweaks(target)
        celery_worker.install_worker_term_handler(target, verbose=False)
        celery_worker.install_worker_term_hard_handler(target, verbose=False)

    worker.install_platform_tweaks = quiet_platform_tweaks
    signals.worker_shutting_down.connect(_log_shutdown, weak=False,
                                         dispatch_uid="rtq-log-shutdown")


def _log_shutdown(sig: str = "", how: str = "", **_: Any) -> None:
    logging.getLogger("rtq.worker").info("worker: %s shutdown (%s)", how, sig)


def _flush_on_shutdown() -> None:
    """Send what is queued before a worker process exits: pool processes end with os._exit,
    which skips sentry-sdk's atexit flush."""
    signals.worker_process_shutdown.connect(_flush_sentry, weak=False,
                                            dispatch_uid="rtq-sentry-flush-process")
    signals.worker_shutdown.connect(_flush_sentry, weak=False,
                                    dispatch_uid="rtq-sentry-flush-worker")


def _flush_sentry(**_: Any) -> None:
    import sentry_sdk

    sentry_sdk.flush(timeout=2)
