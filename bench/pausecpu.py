"""Issue 15: 10,000 paused jobs cost the workers no CPU beyond idle.

One real worker (prefork 2), measured over the same wall time in four states, each ratio
against the idle worker measured first in the same run:

    idle              a fresh worker, nothing in Redis but the accounts
    just paused       `rtq pause`, then 10,000 jobs enqueued: the worker meets each one
                      (begin.lua holds it in the pause's list); measured from the moment the
                      last is held. Before the fix this window cost about ten times idle: every
                      job a pool process ran left its cancelled hard time-limit timer in the
                      event loop's heap, and each woke the loop when its time came, 25 s
                      (RTQ_TASK_TIME_LIMIT) after its job (worker/celery_adapter/schedule.py)
    paused, later     the same worker, once every job's time limit has passed
    restarted         a fresh worker with the 10,000 jobs still paused

CPU is user + system time of the worker's main process and its pool children (/proc). Then
`rtq resume` lets every job go and the scenario checks that all 10,000 succeed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bench.context import Context, job_states, x_calls
from bench.harness import Setup, WorkerGroup, cpu_seconds
from worker.core.keys import Keys
from worker.domain.lanes import queue_depth
from worker.domain.pauses import ALL, Pauses

NAME = "pausecpu"


def _cpu(group: WorkerGroup, seconds: float) -> float:
    pids = group.pids()
    before = cpu_seconds(pids)
    time.sleep(seconds)  # the measured window itself, not a wait for anything
    return cpu_seconds(pids) - before


def _wait(predicate: Callable[[], object], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - started


def run(ctx: Context) -> None:
    stack = ctx.stack
    stack.reset()
    client = stack.client
    assert stack.settings is not None
    keys = Keys(stack.settings.key_prefix)
    jobs = 10_000
    window = ctx.scale(20, 10)
    limit = stack.settings.task_time_limit
    setup = Setup("prefork", 2)
    results: dict[str, float] = {}

    with stack.workers(setup, name="pause").start() as group:
        _cpu(group, 2)  # past start-up
        results["idle"] = _cpu(group, window)
        pauses = Pauses(client, keys)
        pauses.pause(ALL)
        ids = stack.enqueue_rtq(stack.requests(jobs))
        held_in = _wait(lambda: client.llen(keys.paused(ALL)) >= jobs
                        and not queue_depth(client, stack.settings.queue_key)
                        and not client.hlen("unacked"), 600, "every job held by the pause")
        results["just paused"] = _cpu(group, window)
        # Past the last job's time limit: nothing of the burst is left in the worker.
        time.sleep(max(0.0, limit + 1 - window))
        results["paused, later"] = _cpu(group, window)
    assert not x_calls(stack), "a paused job called X"
    with stack.workers(setup, name="pause-restarted").start() as group:
        _cpu(group, 2)
        results["restarted"] = _cpu(group, window)
        released = pauses.resume(ALL)
        drained = _wait(lambda: job_states(stack, ids).get("succeeded", 0) == jobs, 900,
                        "every resumed job to succeed")
    idle = results["idle"]
    for label, seconds in results.items():
        ctx.detail(NAME, f"cpu_s {label}", round(seconds, 3))
    ctx.figure(NAME, f"idle worker CPU per {window} s", idle, "s",
               note=f"prefork 2, main process and pool children; {limit} s task time limit")
    for label in ("just paused", "paused, later", "restarted"):
        ratio = results[label] / idle if idle > 0 else None
        ctx.figure(NAME, f"worker CPU with {jobs:,} paused jobs ({label}) / idle", ratio, "x",
                   "<=", 2.0, note=f"{results[label]:.2f} s vs {idle:.2f} s over {window} s")
    succeeded = job_states(stack, ids).get("succeeded", 0)
    ctx.figure(NAME, "resumed jobs that succeeded", succeeded, "jobs", ">=", jobs,
               note=f"held in {held_in:.0f} s; {released} released by resume, all succeeded "
               f"{drained:.0f} s later; no call while paused")
