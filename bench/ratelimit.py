"""Issue 4's benchmark: per-account rate windows shared by every worker.

The emulator allows 20 calls per 10 s per account (X's 15-minute windows, shortened). rtq runs
with its default RTQ_RATE_LIMIT and learns the real limit from X's headers. 20 accounts get a
backlog of 3 windows' worth each, interleaved, served by 3 worker processes; meanwhile 4 idle
accounts get a job every second each. Then 100,000 more jobs for the saturated accounts are
parked (waiting for their windows) and the workers' memory and Redis's are measured.

Windows are read from the emulator's call log: each call records the `x-rate-limit-remaining`
it answered with, so a window starts where that count goes back up.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.context import Context, job_states, x_calls
from bench.harness import Setup, WorkerGroup, percentile, used_memory
from producers import Producer
from worker.core.settings import Settings
from worker.domain.lanes import queue_depth

NAME = "ratelimit"
LIMIT, WINDOW = 20, 10
SETUP = Setup("threads", 16, instances=3)
PROBE_EVERY_S = 0.25


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def windows(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One account's calls grouped into X's windows: [{start, ok, limited}]."""
    found: list[dict[str, Any]] = []
    previous = None
    for call in sorted(calls, key=lambda c: c["seq"]):
        remaining = call["rate_remaining"]
        if call["status"] == 200 and (previous is None or remaining >= previous):
            found.append({"start": _epoch(call["time"]), "ok": 0, "limited": 0})
        if not found:
            found.append({"start": _epoch(call["time"]), "ok": 0, "limited": 0})
        if call["status"] == 200:
            found[-1]["ok"] += 1
            previous = remaining
        elif call["status"] == 429:
            found[-1]["limited"] += 1
    return found


def measure(ctx: Context, parked_jobs: int, root: Path | None = None) -> dict[str, Any]:
    """The backlog with idle-account probes, then (if `parked_jobs`) the parking test."""
    stack = ctx.stack
    stack.reset(latency_ms=0, rate_limit=LIMIT, rate_window=WINDOW)
    # rtq's own default (50/900) until X's headers say otherwise.
    env = {"RTQ_RATE_LIMIT": "50/900"}
    producer = Producer(stack.client, Settings.from_env({**stack.env, **env}))
    saturated, idle = stack.account_ids[:20], stack.account_ids[20:24]
    backlog = stack.requests(3 * LIMIT * len(saturated), saturated)
    result: dict[str, Any] = {"backlog": len(backlog)}
    with stack.workers(SETUP, name="r", env=env, root=root) as group:
        group.start()
        started = time.time()
        ids = producer.enqueue_many(backlog)
        probes: dict[str, float] = {}
        next_probe, index = time.monotonic(), 0
        deadline = time.monotonic() + 6 * WINDOW + 30
        done = False
        while not done and time.monotonic() < deadline:
            if time.monotonic() >= next_probe:
                tweet = stack.tweets(1)[0]
                probes[tweet] = time.time()
                producer.enqueue("retweet", idle[index % len(idle)], tweet)
                index += 1
                next_probe += PROBE_EVERY_S
                if index % 4 == 0:
                    states = job_states(stack, ids)
                    done = sum(states.get(s, 0) for s in ("succeeded", "skipped")) >= len(ids)
            time.sleep(0.02)
        result["drained_s"] = time.time() - started
        calls = x_calls(stack)
        if parked_jobs:
            result.update(park(ctx, group, producer, saturated, parked_jobs))
        group.kill()

    by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in calls:
        by_account[call["user_id"]].append(call)
    shares, gaps, limited, limited_later, per_window = [], [], 0, 0, {}
    for account in saturated:
        found = windows(by_account[account])
        ok = sum(w["ok"] for w in found)
        shares.append(ok / (len(found) * LIMIT) if found else 0.0)
        per_window[account] = [w["ok"] for w in found]
        limited += sum(w["limited"] for w in found)
        limited_later += sum(w["limited"] for w in found[1:])
        gaps += [b["start"] - (a["start"] + WINDOW) for a, b in itertools.pairwise(found)]
    # (seconds after the backlog was enqueued, enqueue-to-call seconds) of each idle job
    probe_calls = sorted(
        (probes[c["tweet_id"]] - started, _epoch(c["time"]) - probes[c["tweet_id"]])
        for a in idle for c in by_account[a] if c["tweet_id"] in probes)
    everything = [latency for _, latency in probe_calls]
    steady = [latency for at, latency in probe_calls if at >= WINDOW]
    result.update({
        "share": sum(shares) / len(shares), "share_min": min(shares),
        "gap_s": sum(gaps) / len(gaps) if gaps else None, "limited": limited,
        "limited_later": limited_later, "calls_per_window": per_window,
        "probes": len(everything), "p99_all": percentile(everything, 0.99),
        "max_all": max(everything, default=None), "p99_steady": percentile(steady, 0.99),
        "probes_steady": len(steady),
        "idle_job_latency_by_time": [(round(a, 2), round(b, 3)) for a, b in probe_calls],
    })
    return result


def park(ctx: Context, group: WorkerGroup, producer: Producer, saturated: list[str],
         jobs: int) -> dict[str, Any]:
    """Park `jobs` more jobs for the saturated accounts (their windows are spent: the jobs wait
    in rtq:waiting:*), then watch the workers' memory while the mover keeps releasing."""
    stack = ctx.stack
    memory_before = group.memory()
    redis_before = used_memory(stack.client)
    producer.enqueue_many(stack.requests(jobs, saturated))
    time.sleep(1)
    waiting = sum(stack.client.zcard(f"rtq:waiting:{a}:retweet") for a in saturated)
    queued = queue_depth(stack.client, "rtq")
    redis_after = used_memory(stack.client)
    peak, samples = memory_before["rss_kb"], []
    for _ in range(ctx.scale(12, 6)):
        rss = group.memory()["rss_kb"]
        peak = max(peak, rss)
        samples.append(round(rss / 1024, 1))
        time.sleep(1)
    return {"parked": jobs, "waiting": waiting, "queued": queued,
            "rss_before_mb": memory_before["rss_kb"] / 1024, "rss_peak_mb": peak / 1024,
            "rss_samples_mb": samples,
            "redis_bytes_per_parked": (redis_after - redis_before) / jobs}


def run(ctx: Context) -> None:
    r = measure(ctx, ctx.scale(100_000, 20_000))
    ctx.detail(NAME, "run", r)
    ctx.figure(NAME, f"calls per window per account / limit (20 accounts, {LIMIT}/{WINDOW}s, "
               f"{SETUP.label})", r["share"], "x", ">=", 0.95,
               note=f"min {r['share_min']:.2f}; backlog of {r['backlog']} done in "
               f"{r['drained_s']:.0f} s")
    ctx.figure(NAME, "idle time between an account's windows (mean)", r["gap_s"], "s",
               note=f"of a {WINDOW} s window; the reset is rounded up to the second, plus "
               "rtq's 250 ms margin and the mover's 250 ms period")
    ctx.figure(NAME, "429s received, all windows", r["limited"], "responses")
    ctx.figure(NAME, "429s received after each account's first window", r["limited_later"],
               "responses", "<=", 0)
    ctx.figure(NAME, "idle accounts' jobs, enqueue-to-call p99, whole run", r["p99_all"], "s",
               "<", 1.0, note=f"{r['probes']} jobs for 4 idle accounts, max "
               f"{r['max_all'] or 0:.2f} s; the backlog's first pass (before rtq has seen the "
               "windows spent) waits in the overflow lane, 4 jobs per account in the fast lane")
    ctx.figure(NAME, "idle accounts' jobs, enqueue-to-call p99, after the first window",
               r["p99_steady"], "s", "<", 1.0,
               note=f"{r['probes_steady']} jobs; each window's release of {LIMIT} x 20 waiting "
               "jobs goes to the released lane, behind fresh jobs")
    ctx.figure(NAME, f"worker RSS growth with {r['waiting'] + r['queued']:,} parked jobs "
               f"({SETUP.instances} workers)", r["rss_peak_mb"] - r["rss_before_mb"], "MB", "<",
               50, note=f"{r['rss_before_mb']:.0f} -> {r['rss_peak_mb']:.0f} MB RSS, "
               f"{r['waiting']:,} waiting, {r['queued']:,} queued (in the lanes, to be parked "
               "by workers: enqueued before rtq saw the windows spent)")
    ctx.figure(NAME, "Redis bytes per parked job", r["redis_bytes_per_parked"], "B",
               note="message kept in rtq:parked:msg, sorted-set entry, record, intent")
