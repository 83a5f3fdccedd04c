"""4. Bulk enqueue: 100,000 jobs through `rtq enqueue FILE` and through `Producer.enqueue_many`,
against plain Celery's `send_task` of the same kwargs, one message at a time (no worker runs).

The CLI figure is wall-clock for the whole command (start-up, reading and validating every line,
checking accounts, enqueueing, printing 100,000 ids); the Python figure includes validation
(`JobRequest.create` per job).
"""

from __future__ import annotations

import json
import os
import subprocess
import time

from celery import Celery

from bench.context import Context
from bench.harness import PYTHON, Stack
from producers import JobRequest
from worker.domain.lanes import queue_depth

NAME = "enqueue"


def cli_enqueue(stack: Stack, jobs: int, env: dict[str, str] | None = None
                ) -> tuple[float, int]:
    """`rtq enqueue FILE` of `jobs` fresh jobs: (seconds for the whole command, jobs queued)."""
    assert stack.settings is not None
    stack.reset()
    path = stack.workdir / "jobs.jsonl"
    path.write_text("".join(json.dumps(r.as_record()) + "\n" for r in stack.requests(jobs)))
    rtq = os.path.join(os.path.dirname(PYTHON), "rtq")
    started = time.monotonic()
    with open(stack.workdir / "ids.txt", "wb") as out:
        completed = subprocess.run([rtq, "enqueue", str(path)], env={**stack.env, **(env or {})},
                                   stdout=out, stderr=subprocess.PIPE, check=False, timeout=600)
    seconds = time.monotonic() - started
    if completed.returncode != 0:
        raise RuntimeError(f"rtq enqueue failed: {completed.stderr.decode()[-500:]}")
    return seconds, queue_depth(stack.client, stack.settings.queue_key)


def run(ctx: Context) -> None:
    stack = ctx.stack
    jobs = ctx.scale(100_000, 20_000)
    loop_jobs = ctx.scale(5_000, 2_000)
    assert stack.settings is not None
    queue = stack.settings.queue_key

    cli_seconds, cli_queued = cli_enqueue(stack, jobs)

    # Producer.enqueue_many, validating each job as the Python API does
    stack.reset()
    records = [r.as_record() for r in stack.requests(jobs)]
    producer = stack.producer()
    started = time.monotonic()
    validated = [JobRequest.create(r["action"], r["account_id"], r["tweet_id"]) for r in records]
    producer.enqueue_many(validated)
    api_seconds = time.monotonic() - started
    api_queued = queue_depth(stack.client, queue)

    # plain Celery, one send_task per job
    stack.reset()
    app = Celery("foreign", broker=stack.settings.redis_url)
    app.conf.task_serializer = "json"
    loop = stack.requests(loop_jobs)
    with app.connection_for_write() as connection, app.producer_or_acquire() as _:
        connection.ensure_connection()
        app.send_task("rtq.retweet", kwargs={"account_id": loop[0].account_id,
                                             "tweet_id": loop[0].tweet_id}, queue=queue)
        started = time.monotonic()
        for request in loop[1:]:
            app.send_task("rtq.retweet", kwargs={"account_id": request.account_id,
                                                 "tweet_id": request.tweet_id}, queue=queue)
        loop_seconds = time.monotonic() - started
    app.close()
    loop_rate = (loop_jobs - 1) / loop_seconds
    loop_queued = queue_depth(stack.client, queue)
    stack.reset()

    cli_rate, api_rate = jobs / cli_seconds, jobs / api_seconds
    ctx.detail(NAME, "queued", {"cli": cli_queued, "api": api_queued, "loop": loop_queued})
    ctx.figure(NAME, f"`rtq enqueue FILE`, {jobs:,} jobs (whole command)", cli_rate, "jobs/s",
               ">=", 20_000, note=f"{cli_seconds:.1f} s, {cli_queued:,} queued")
    ctx.figure(NAME, f"Producer.enqueue_many, {jobs:,} jobs (with validation)", api_rate,
               "jobs/s", ">=", 20_000, note=f"{api_seconds:.1f} s, {api_queued:,} queued")
    ctx.figure(NAME, f"plain Celery send_task loop, {loop_jobs:,} jobs one by one", loop_rate,
               "jobs/s")
    ctx.figure(NAME, "rtq enqueue FILE / send_task loop", cli_rate / loop_rate, "x", ">=", 10)
    ctx.figure(NAME, "Producer.enqueue_many / send_task loop", api_rate / loop_rate, "x", ">=", 10)
