"""Celery configuration, derived from `Settings` (loaded lazily by `worker.celery_adapter.app`).

Choices that matter on Redis (see README "Reliability"):
- acks_late + reject_on_worker_lost: a job whose worker dies is delivered again, never lost;
  our own delivery counter (begin.lua) bounds how often.
- visibility_timeout (RTQ_VISIBILITY_TIMEOUT, 30 s): how long an unacked message waits before
  kombu restores it. Calls are bounded by HTTP timeouts (3 s connect, 10 s read) and the hard
  time limit below, so a healthy job never outlives it; a dead worker's job returns within
  visibility_timeout plus kombu's restore sweep.
- kombu sweeps for expired unacked messages every `unacked_restore_interval` seconds but only
  scans on every `unacked_restore_throttle`-th sweep: by default 10 x 10 = 100 s, which alone
  would break "a dead worker's job is finished within 60 s". We scan every sweep, and sweep every
  visibility_timeout / 6 seconds (5 s by default): recovery <= 30 + 5 s plus pick-up.
- unacked_mutex_expire: the lock kombu takes while restoring; a worker killed while holding it
  would block restores for its expiry (300 s by default), so it is kept at the timeout.
- prefetch multiplier 1: prefetched messages count as unacked, and we never hold work we are
  not doing.
- no result backend: job status lives in our own records; task results go to Flower via events.
"""

from __future__ import annotations

# Module-level names are Celery settings (and Flower shows them): helpers stay private.
from typing import Any as _Any

from worker.celery_adapter import broker as _broker
from worker.core.settings import Settings as _Settings

_settings = _Settings.from_env()

broker_url = _broker.broker_url(_settings)
broker_connection_retry_on_startup = True
broker_connection_max_retries = None
broker_transport_options: dict[str, _Any] = {
    "visibility_timeout": _settings.visibility_timeout,
    "unacked_restore_interval": max(1, _settings.visibility_timeout // 6),
    "unacked_restore_throttle": 1,
    "unacked_mutex_expire": _settings.visibility_timeout,
    "socket_connect_timeout": 5,
    "socket_timeout": 10,
    "socket_keepalive": True,
    "health_check_interval": 10,
    "retry_on_timeout": True,
    "max_connections": 200,
}
if _settings.kombu_prefix:
    broker_transport_options["global_keyprefix"] = _settings.kombu_prefix
broker_transport_options.update(_broker.transport_options(_settings))
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_accept_content = ["json"]
result_backend = None
task_ignore_result = True
task_default_queue = _settings.queue
task_default_exchange = ""
task_default_routing_key = _settings.queue
task_routes = {"rtq.*": {"queue": _settings.queue}}
task_create_missing_queues = True
task_acks_late = True
task_reject_on_worker_lost = True
# A task cut off by the hard time limit goes back to the queue (its claim lease outlives the
# limit, so the next delivery waits for it); our own delivery counter bounds the loop.
task_acks_on_failure_or_timeout = True
task_acks_on_timeout = False
task_time_limit = _settings.task_time_limit
worker_prefetch_multiplier = 1
worker_send_task_events = True
task_send_sent_event = True
worker_cancel_long_running_tasks_on_connection_loss = True
worker_max_tasks_per_child = None
worker_proc_alive_timeout = 10
worker_consumer = "worker.celery_adapter.consumer:RtqConsumer"
broker_transport = _broker.transport(_settings)
