"""The task's hot path in one process, without Celery: CPU per job of each step.

    python -m bench.inproc JOBS      (run by bench/hotspots.py and bench/whatif.py, with the
                                      stack's environment; cwd = the source tree to measure)

Enqueues JOBS jobs, then calls `JobService.handle` for each, as a pool process would, timing
each step with `time.process_time` (begin.lua, credentials, the signed call, settle, the log
line); then makes the same signed POSTs the plain baseline makes. Single-threaded and
free of Celery and of the other processes' scheduling, these figures are far steadier than
end-to-end jobs/s on a shared machine. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import requests
from requests_oauthlib import OAuth1

import worker
from producers import JobRequest, Producer
from worker.celery_adapter import runtime
from worker.core.redis_client import connect
from worker.core.settings import Settings
from worker.domain import service as service_module
from worker.domain import settling as settling_module

WARMUP = 200


def timed(owner: Any, name: str, label: str, spent: dict[str, float]) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.process_time() - started

    setattr(owner, name, wrapper)


def main() -> None:
    jobs = int(sys.argv[1])
    settings = Settings.from_env()
    client = connect(settings.redis_url)
    with open(os.environ["BENCH_ACCOUNTS_FILE"]) as handle:
        accounts = json.load(handle)
    ids = sorted(accounts)[:20]
    requests_ = [JobRequest("retweet", ids[i % len(ids)], str(10**17 + i))
                 for i in range(jobs + WARMUP)]
    job_ids = Producer(client, settings).enqueue_many(requests_)
    service = runtime.build_service(settings)
    work = list(zip(job_ids, requests_, strict=True))

    def handle(job_id: str, request: JobRequest) -> None:
        service.handle("retweet", job_id, (),
                       {"account_id": request.account_id, "tweet_id": request.tweet_id})

    for job_id, request in work[:WARMUP]:
        handle(job_id, request)
    spent: dict[str, float] = {}
    timed(service._scripts, "begin", "begin.lua round trip", spent)
    if hasattr(service._accounts, "unseal"):  # begin.lua reads them: decrypt + cache only
        timed(service._accounts, "unseal", "credentials (decrypt, cache)", spent)
    else:
        timed(service._accounts, "get", "credentials (HGET round trip, cache)", spent)
    timed(service._x, "set_retweeted", "signed HTTP call to X", spent)
    timed(service._settler, "settle", "settle round trip(s)", spent)
    if hasattr(service, "_log"):
        timed(service, "_log", "per-job log line", spent)
    else:
        timed(service_module, "log_outcome", "per-job log line", spent)
    timed(settling_module, "build_message", "build_message (begin's parking copy)", spent)
    started = time.process_time()
    for job_id, request in work[WARMUP:]:
        handle(job_id, request)
    total = time.process_time() - started
    steps = {k: v * 1000 / jobs for k, v in spent.items()}
    steps["rest (parse, bookkeeping, history JSON)"] = total * 1000 / jobs - sum(steps.values())

    # The plain baseline's task body: the same signed POST, nothing else.
    session = requests.Session()
    signers = {a: OAuth1(c["consumer_key"], client_secret=c["consumer_secret"],
                         resource_owner_key=c["access_token"],
                         resource_owner_secret=c["access_token_secret"])
               for a, c in accounts.items()}
    base = settings.x_api_url

    def post(request: JobRequest, sess: requests.Session) -> None:
        response = sess.post(f"{base}/2/users/{request.account_id}/retweets",
                             json={"tweet_id": request.tweet_id},
                             auth=signers[request.account_id], timeout=(3.05, 10.0))
        if response.json()["data"]["retweeted"] is not True:
            raise RuntimeError("unexpected answer")

    plain = [JobRequest("retweet", ids[i % len(ids)], str(2 * 10**17 + i))
             for i in range(jobs + WARMUP)]
    for request in plain[:WARMUP]:
        post(request, session)
    started = time.process_time()
    for request in plain[WARMUP:]:
        post(request, session)
    plain_ms = (time.process_time() - started) * 1000 / jobs
    # The same, with the environment read once (proxies, CA bundle) instead of on every call.
    quiet = requests.Session()
    quiet.trust_env = False
    quiet.proxies = requests.utils.get_environ_proxies(base)
    started = time.process_time()
    for request in plain[WARMUP:]:
        post(request, quiet)
    quiet_ms = (time.process_time() - started) * 1000 / jobs
    print(json.dumps({"tree": os.path.dirname(os.path.dirname(worker.__file__)),
                      "jobs": jobs, "handle_ms": total * 1000 / jobs, "steps_ms": steps,
                      "plain_post_ms": plain_ms, "plain_post_trust_env_off_ms": quiet_ms,
                      "environment_variables": len(os.environ)}))


if __name__ == "__main__":
    main()
