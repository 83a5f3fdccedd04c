"""3. The dedup path: jobs whose known state already matches what they ask for. begin.lua
settles them as `skipped` and no call is made; compared with the API path (same setup, 0 ms)."""

from __future__ import annotations

from bench.context import Context, job_states, x_calls
from bench.harness import drain
from bench.overhead import SETUP, measure

NAME = "dedup"


def run(ctx: Context) -> None:
    stack = ctx.stack
    jobs = ctx.scale(6000, 2500)
    stack.reset(latency_ms=0)
    requests = stack.requests(jobs)
    assert stack.settings is not None
    pipe = stack.client.pipeline(transaction=False)
    for request in requests:  # what rtq learned from X earlier: these are retweeted already
        pipe.set(f"rtq:known:{request.account_id}:{request.tweet_id}", "1",
                 ex=stack.settings.known_state_ttl)
    pipe.execute()
    ids = stack.enqueue_rtq(requests)
    with stack.workers(SETUP, name="d") as group:
        result = drain(stack, group, stack.settings.queue_key, jobs, f"rtq dedup {SETUP.label}")
        group.stop()
    states = job_states(stack, ids)
    calls = len(x_calls(stack))
    ctx.detail(NAME, "drain", result.as_dict())
    ctx.detail(NAME, "states", states)
    memo = ctx.memo.get("api_path_rate")
    if memo is not None and memo[0] == SETUP:
        api_rate = memo[1]
        source = "overhead scenario, same run"
    else:
        api_rate = measure(ctx, "rtq", ctx.scale(4000, 1500))["drain"].rate
        source = "measured here"
    ctx.figure(NAME, f"rtq dedup path (known state matches, no call), {SETUP.label}", result.rate,
               "jobs/s", note=f"{result.worker_cpu_ms_per_job:.2f} ms CPU/job; "
               f"{states.get('skipped', 0)} skipped, {calls} calls to X")
    ctx.figure(NAME, f"rtq API path, same setup ({source})", api_rate, "jobs/s")
    ctx.figure(NAME, "dedup path / API path", result.rate / api_rate, "x", ">=", 2.0)
    ctx.figure(NAME, "calls to X made by jobs that should have been skipped", calls, "calls",
               "<=", 0)
