"""The baseline: a plain Celery task that makes the same signed POST rtq makes, nothing else.

    celery -A bench.baseline worker -Q plain -O fair --prefetch-multiplier 1 -E --pool ... \
        --concurrency ...

Same broker (the bench's private Redis), same transport options, acks_late and
reject_on_worker_lost, prefetch 1, events on, no result backend, JSON. The task signs with
requests_oauthlib's OAuth1 (one signer per account, cached) on one `requests.Session` per
process (made after fork), with the same connection pool and timeouts as rtq's `XClient`, and
reads X's answer. What it leaves out is exactly what rtq adds: dedup and intent ordering, status
records, the per-account scheduler, claims, dead letters and the guarded consumer.

Environment: BENCH_REDIS_URL, BENCH_X_API_URL, BENCH_ACCOUNTS_FILE (JSON: account id ->
credentials), all set by bench/harness.py.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import requests
from celery import Celery
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth1

QUEUE = "plain"
TIMEOUT = (3.05, 10.0)  # rtq's defaults (RTQ_HTTP_CONNECT_TIMEOUT / RTQ_HTTP_READ_TIMEOUT)
POOL_SIZE = 64  # rtq's XClient pool_size

app = Celery("plain", broker=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:1/0"))
app.conf.update(
    broker_connection_retry_on_startup=True,
    # The reliability options rtq sets (worker/celery_adapter/config.py), so both pay the same.
    broker_transport_options={
        "visibility_timeout": 30,
        "unacked_restore_interval": 5,
        "unacked_restore_throttle": 1,
        "unacked_mutex_expire": 30,
        "socket_connect_timeout": 5,
        "socket_timeout": 10,
        "socket_keepalive": True,
        "health_check_interval": 10,
        "retry_on_timeout": True,
        "max_connections": 200,
    },
    task_serializer="json",
    accept_content=["json"],
    result_backend=None,
    task_ignore_result=True,
    task_default_queue=QUEUE,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_acks_on_failure_or_timeout=True,
    task_acks_on_timeout=False,
    task_time_limit=25,
    worker_prefetch_multiplier=1,
    worker_send_task_events=True,
    task_send_sent_event=True,
    worker_cancel_long_running_tasks_on_connection_loss=True,
    worker_proc_alive_timeout=10,
)

_lock = threading.Lock()
_state: dict[str, Any] = {"pid": 0}


def _session() -> requests.Session:
    if _state["pid"] != os.getpid():
        with _lock:
            if _state["pid"] != os.getpid():
                session = requests.Session()
                adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
                session.mount("http://", adapter)
                with open(os.environ["BENCH_ACCOUNTS_FILE"]) as handle:
                    accounts = json.load(handle)
                _state.update(pid=os.getpid(), session=session, accounts=accounts, signers={})
    session: requests.Session = _state["session"]
    return session


def _signer(account_id: str) -> OAuth1:
    signers: dict[str, OAuth1] = _state["signers"]
    signer = signers.get(account_id)
    if signer is None:
        creds = _state["accounts"][account_id]
        signer = OAuth1(creds["consumer_key"], client_secret=creds["consumer_secret"],
                        resource_owner_key=creds["access_token"],
                        resource_owner_secret=creds["access_token_secret"],
                        signature_type="AUTH_HEADER")
        signers[account_id] = signer
    return signer


@app.task(name="plain.retweet")
def retweet(account_id: str, tweet_id: str) -> None:
    session = _session()
    url = f"{os.environ['BENCH_X_API_URL']}/2/users/{account_id}/retweets"
    response = session.post(url, json={"tweet_id": tweet_id}, auth=_signer(account_id),
                            timeout=TIMEOUT)
    if response.status_code != 200 or response.json()["data"]["retweeted"] is not True:
        raise RuntimeError(f"X answered {response.status_code}")
