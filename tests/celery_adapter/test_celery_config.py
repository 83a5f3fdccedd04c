"""The Celery settings rtq's reliability depends on, as the worker sees them."""

from __future__ import annotations

import subprocess
import sys

from tests.support import Rtq


def test_worker_settings_that_keep_jobs_from_being_lost(rtq: Rtq) -> None:
    """acks_late, requeue on a lost worker or a hard time limit, and kombu's sweep interval."""
    script = (
        "import json; from worker import app; from worker.celery_adapter import tasks; "
        "c = app.conf; "
        "t = app.tasks['rtq.retweet']; "
        "print(json.dumps([c.task_acks_late, c.task_reject_on_worker_lost, t.acks_on_timeout, "
        "c.worker_prefetch_multiplier, c.task_time_limit, c.accept_content, "
        "c.broker_transport_options['visibility_timeout'], "
        "c.broker_transport_options['unacked_restore_interval'], "
        "c.broker_transport_options['unacked_restore_throttle']]))"
    )
    env = {k: v for k, v in rtq.env.items() if k != "RTQ_VISIBILITY_TIMEOUT"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == '[true, true, false, 1, 25, ["json"], 30, 5, 1]'
