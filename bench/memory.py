"""5. Memory: Redis bytes per queued job and per finished job (INFO used_memory deltas, broken
down with MEMORY USAGE over samples; the queued job's figure includes its entry in the account's
job index, though its name, kept for comparison across runs, does not say so), and worker RSS
while 100,000 jobs go through one worker (sampled at intervals: after warm-up it must not
grow)."""

from __future__ import annotations

import random
import time
from typing import Any

from bench.context import Context, job_states, x_calls
from bench.harness import UNACKED, Setup, used_memory
from bench.overhead import SETUP
from worker.domain.lanes import all_lanes, queue_depth

NAME = "memory"
SAMPLE_EVERY_S = 2.0
# Allowed growth of the worker's processes (summed RSS) from warm-up to the end. RSS, not PSS:
# PSS of forked pool children rises as copy-on-write pages they touch stop being shared, which
# is not new memory.
GROWTH_LIMIT_MB = 5.0


def key_bytes(client: Any, keys: list[str]) -> float:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    sizes = [s for s in pipe.execute() if s is not None]
    return sum(sizes) / max(len(sizes), 1)


def breakdown(client: Any, ids: list[str], pairs: list[tuple[str, str]],
              terminal: bool) -> dict[str, float]:
    picks = random.Random(7).sample(range(len(ids)), min(300, len(ids)))
    parts = {
        "job record (rtq:job:*)": key_bytes(client, [f"rtq:job:{ids[i]}" for i in picks]),
        "intent (rtq:intent:*)": key_bytes(
            client, [f"rtq:intent:{pairs[i][0]}:{pairs[i][1]}" for i in picks]),
    }
    # The account job index (a stream per account): its bytes over the jobs it holds.
    accounts = sorted({account for account, _ in pairs})
    parts["index entry (rtq:account:*:jobs)"] = sum(
        client.memory_usage(f"rtq:account:{a}:jobs", samples=0) or 0 for a in accounts
    ) / max(len(ids), 1)
    if terminal:
        parts["known state (rtq:known:*)"] = key_bytes(
            client, [f"rtq:known:{pairs[i][0]}:{pairs[i][1]}" for i in picks])
    else:
        lists = all_lanes("rtq")
        length = queue_depth(client, "rtq")
        parts["message in the queue list"] = sum(
            client.memory_usage(name, samples=0) or 0 for name in lists) / max(length, 1)
    return {k: round(v, 1) for k, v in parts.items()}


def run(ctx: Context) -> None:
    stack = ctx.stack
    jobs = ctx.scale(100_000, 20_000)
    setup: Setup = SETUP
    client = stack.client

    # Plain Celery's queued job, for reference: its message and nothing else.
    stack.reset(latency_ms=0)
    base = used_memory(client)
    reference = ctx.scale(20_000, 5_000)
    stack.enqueue_plain(stack.requests(reference))
    plain_queued = (used_memory(client) - base) / reference

    stack.reset(latency_ms=0)
    requests = stack.requests(jobs)
    pairs = [(r.account_id, r.tweet_id) for r in requests]
    base = used_memory(client)
    ids = stack.enqueue_rtq(requests)
    queued = (used_memory(client) - base) / jobs
    queued_parts = breakdown(client, ids, pairs, terminal=False)

    samples: list[dict[str, Any]] = []
    with stack.workers(setup, name="m") as group:
        group.start()
        started = time.monotonic()
        next_sample = started
        while True:
            left = queue_depth(client, "rtq") + client.hlen(UNACKED)
            now = time.monotonic()
            if now >= next_sample or left == 0:
                memory = group.memory()
                samples.append({"t": round(now - started, 1), "done": jobs - left,
                                "rss_mb": round(memory["rss_kb"] / 1024, 1),
                                "pss_mb": round(memory["pss_kb"] / 1024, 1)})
                next_sample = now + SAMPLE_EVERY_S
            if left == 0:
                break
            if now - started > 1800:
                raise RuntimeError(f"{left} jobs left after 30 minutes")
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        group.stop()
    states = job_states(stack, ids)
    terminal = (used_memory(client) - base) / jobs
    terminal_parts = breakdown(client, ids, pairs, terminal=True)
    calls = len(x_calls(stack))

    warm = next(s for s in samples if s["done"] >= jobs * 0.2)
    last = samples[-1]
    growth = last["rss_mb"] - warm["rss_mb"]
    ctx.detail(NAME, "rss_samples", samples)
    ctx.detail(NAME, "queued_breakdown_bytes", queued_parts)
    ctx.detail(NAME, "terminal_breakdown_bytes", terminal_parts)
    ctx.detail(NAME, "states", states)
    ctx.figure(NAME, "Redis bytes per queued job (rtq: message + job record + intent)", queued,
               "B", "<", 1024, note=", ".join(f"{k} {v:.0f}" for k, v in queued_parts.items()))
    ctx.figure(NAME, "Redis bytes per queued job, plain Celery send_task (message only)",
               plain_queued, "B")
    ctx.figure(NAME, "Redis bytes per finished job (record with history, intent, known state)",
               terminal, "B", note=", ".join(f"{k} {v:.0f}" for k, v in terminal_parts.items())
               + "; records expire after RTQ_JOB_TTL (7 days)")
    ctx.figure(NAME, f"worker RSS after {jobs:,} jobs ({setup.label}: main + 2 pool processes)",
               last["rss_mb"], "MB", note=f"PSS {last['pss_mb']:.0f} MB; "
               f"{jobs / elapsed:.0f} jobs/s; {states.get('succeeded', 0):,} succeeded, "
               f"{calls:,} calls to X")
    ctx.figure(NAME, f"worker RSS growth from {warm['done']:,} jobs (warm) to {jobs:,}", growth,
               "MB", "<=", GROWTH_LIMIT_MB,
               note=f"{warm['rss_mb']:.1f} -> {last['rss_mb']:.1f} MB (max "
               f"{max(s['rss_mb'] for s in samples):.1f}); {len(samples)} samples, every "
               f"{SAMPLE_EVERY_S:g} s")
