"""Per-process singletons for the worker: settings, Redis client and the job service.

Built on first use, after any fork, so each pool process owns its connections.
"""

from __future__ import annotations

import os
import socket
import threading

import redis

from worker.core.keys import Keys
from worker.core.redis_client import connect
from worker.core.settings import Settings
from worker.domain.accounts import AccountStore, fernet_for
from worker.domain.service import JobService
from worker.x_api.client import XClient

_lock = threading.Lock()
_service: JobService | None = None
_pid = 0


def settings() -> Settings:
    return Settings.from_env()


def service() -> JobService:
    global _service, _pid
    if _service is None or _pid != os.getpid():
        with _lock:
            if _service is None or _pid != os.getpid():
                _service = build_service(Settings.from_env())
                _pid = os.getpid()
    return _service


def build_service(settings: Settings, client: redis.Redis | None = None) -> JobService:
    client = client or connect(settings.redis_url)
    keys = Keys(settings.key_prefix)
    accounts = AccountStore(client, keys, fernet_for(settings.require_secret_keys()))
    default_consumer = None
    if settings.consumer_key and settings.consumer_secret:
        default_consumer = (settings.consumer_key, settings.consumer_secret)
    x_client = XClient(
        settings.x_api_url,
        default_consumer=default_consumer,
        connect_timeout=settings.http_connect_timeout,
        read_timeout=settings.http_read_timeout,
        rate_window=settings.rate_window,
    )
    return JobService(settings, client, accounts, x_client,
                      worker_name=f"{socket.gethostname()}:{os.getpid()}")
