"""3. The dedup path: jobs whose known state already matches what they ask for. begin.lua
settles them as `skipped` and no call is made; compared with the API path in the same setup.

Two setups: one worker process per core (2 x threads 8: the deployment shape this suite
recommends; the target figure), and the overhead scenario's prefork 2. With prefork, one main
process consumes every message for its pool, and on the dedup path that consumer (BRPOP, task
events, acks, IPC: ~1.3 ms CPU per message) costs more than the task itself, so one prefork
worker tops out near 700 jobs/s whatever the task does.
"""

from __future__ import annotations

from bench.context import Context, job_states, x_calls
from bench.harness import Drain, Setup, drain
from bench.overhead import SETUP as PREFORK
from bench.overhead import measure

NAME = "dedup"
SETUP = Setup("threads", 8, instances=2)


def skipped_path(ctx: Context, setup: Setup, jobs: int) -> tuple[Drain, dict[str, int], int]:
    stack = ctx.stack
    stack.reset(latency_ms=0)
    requests = stack.requests(jobs)
    assert stack.settings is not None
    pipe = stack.client.pipeline(transaction=False)
    for request in requests:  # what rtq learned from X earlier: these are retweeted already
        pipe.set(f"rtq:known:{request.account_id}:{request.tweet_id}", "1",
                 ex=stack.settings.known_state_ttl)
    pipe.execute()
    ids = stack.enqueue_rtq(requests)
    with stack.workers(setup, name="d") as group:
        result = drain(stack, group, stack.settings.queue_key, jobs, f"rtq dedup {setup.label}")
        group.stop()
    return result, job_states(stack, ids), len(x_calls(stack))


def run(ctx: Context) -> None:
    jobs = ctx.scale(6000, 2500)
    api_jobs = ctx.scale(3000, 1500)
    for setup, target in ((SETUP, True), (PREFORK, False)):
        result, states, calls = skipped_path(ctx, setup, jobs)
        memo = ctx.memo.get("api_path_rate")
        if memo is not None and memo[0] == setup:
            api_rate, source = memo[1], "overhead scenario, same run"
        else:
            api_rate, source = measure(ctx, "rtq", api_jobs, setup=setup)["drain"].rate, \
                "measured here"
        ctx.detail(NAME, setup.label, {"drain": result.as_dict(), "states": states,
                                       "api_rate": api_rate})
        ctx.figure(NAME, f"rtq dedup path (known state matches, no call), {setup.label}",
                   result.rate, "jobs/s", note=f"{result.worker_cpu_ms_per_job:.2f} ms CPU/job; "
                   f"{states.get('skipped', 0)} skipped, {calls} calls to X")
        ctx.figure(NAME, f"rtq API path, {setup.label} ({source})", api_rate, "jobs/s")
        ctx.figure(NAME, f"dedup path / API path, {setup.label}", result.rate / api_rate, "x",
                   ">=" if target else "", 2.0 if target else None,
                   note="" if target else "one prefork consumer caps the dedup path (above)")
        ctx.figure(NAME, f"calls to X made by jobs that should have been skipped, {setup.label}",
                   calls, "calls", "<=", 0)
