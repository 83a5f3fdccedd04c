"""1. Overhead, and 7. Redis commands per job: rtq with everything on against a plain Celery
task making the same signed POST, at 0 ms API latency, same pool, concurrency and options.

Runs alternate (rtq, plain, rtq, plain, ...) so drift on a shared machine hits both; each run
drains a preloaded backlog and measures completed jobs per second after a warm-up, plus the
worker CPU each job cost (the steadier figure when other processes compete for the cores).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench.context import Context, call_summary, job_states, x_calls
from bench.harness import (
    PLAIN_QUEUE,
    Drain,
    Setup,
    command_delta,
    commandstats,
    drain,
    reads_processed,
)
from worker.domain.lanes import PRIORITY_STEPS

NAME = "overhead"
SETUP = Setup("prefork", 2)  # 2 cores, CPU-bound at 0 ms latency: one process per core


def measure(ctx: Context, kind: str, jobs: int, setup: Setup = SETUP, latency_ms: float = 0,
            root: Path | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Drain `jobs` preloaded jobs through rtq or the plain baseline; returns the drain, the
    Redis commands per job (producer and worker side) and what X saw. `root` and `env` run
    the workers from another source tree or environment (bench/whatif.py)."""
    stack = ctx.stack
    stack.reset(latency_ms=latency_ms)
    requests = stack.requests(jobs)
    before = commandstats(stack.client)
    job_ids: list[str] = []
    if kind == "rtq":
        job_ids = stack.enqueue_rtq(requests)
    else:
        stack.enqueue_plain(requests)
    queued = commandstats(stack.client)
    reads = reads_processed(stack.client)
    queue = stack.settings.queue_key if stack.settings else "rtq"
    with stack.workers(setup, plain=kind == "plain", name="o", root=root, env=env) as group:
        result: Drain = drain(stack, group, queue if kind == "rtq" else PLAIN_QUEUE, jobs,
                              f"{kind} {setup.label}")
        after = commandstats(stack.client)
        # Requests Redis read from clients: one per round trip (a pipeline or MULTI is one),
        # less the bench's own polls and INFO calls.
        round_trips = (reads_processed(stack.client) - reads - result.polls - 2) / jobs
        group.stop()
    # Each poll reads every lane of the queue (worker/domain/lanes.py) and the unacked hash.
    own = {"llen": result.polls * len(PRIORITY_STEPS), "hlen": result.polls}
    producer = command_delta(before, queued)
    worker = command_delta(queued, after, own)
    calls = call_summary(x_calls(stack))
    states = job_states(stack, job_ids) if job_ids else {}
    return {"drain": result, "producer_commands": producer, "worker_commands": worker,
            "round_trips": round_trips, "x": calls, "states": states}


def per_job(commands: dict[str, int], jobs: int) -> dict[str, float]:
    return {name: round(calls / jobs, 3) for name, calls in
            sorted(commands.items(), key=lambda item: -item[1])}


def run(ctx: Context) -> None:
    jobs = ctx.scale(3000, 1500)
    rounds = ctx.scale(2, 1)
    runs: dict[str, list[dict[str, Any]]] = {"rtq": [], "plain": []}
    for _ in range(rounds):
        for kind in ("rtq", "plain"):
            outcome = measure(ctx, kind, jobs)
            runs[kind].append(outcome)
            d = outcome["drain"]
            print(f"    {kind:<5} {d.rate:7.1f} jobs/s  {d.worker_cpu_ms_per_job:5.2f} ms CPU/job  "
                  f"emulator {d.emulator_load:.0%} of a core, redis {d.redis_load:.0%}  "
                  f"X: {outcome['x']['statuses']}", flush=True)
    ctx.memo["overhead"] = runs
    rtq = statistics.median(r["drain"].rate for r in runs["rtq"])
    plain = statistics.median(r["drain"].rate for r in runs["plain"])
    ratios = [a["drain"].rate / b["drain"].rate for a, b in zip(runs["rtq"], runs["plain"],
                                                               strict=True)]
    rtq_cpu = statistics.median(r["drain"].worker_cpu_ms_per_job for r in runs["rtq"])
    plain_cpu = statistics.median(r["drain"].worker_cpu_ms_per_job for r in runs["plain"])
    emulator_load = max(r["drain"].emulator_load for rs in runs.values() for r in rs)
    ctx.memo["api_path_rate"] = (SETUP, rtq)
    label = f"{SETUP.label}, 0 ms API latency, {jobs} jobs x {rounds} rounds"
    ctx.figure(NAME, f"rtq jobs/s ({label})", rtq, "jobs/s")
    ctx.figure(NAME, "plain Celery jobs/s (same setup)", plain, "jobs/s")
    ctx.figure(NAME, "throughput ratio rtq / plain Celery", statistics.median(ratios), "x", ">=",
               0.9, note="per-round ratios " + ", ".join(f"{r:.2f}" for r in ratios))
    ctx.figure(NAME, "worker CPU per job: rtq", rtq_cpu, "ms")
    ctx.figure(NAME, "worker CPU per job: plain Celery", plain_cpu, "ms")
    ctx.figure(NAME, "CPU-cost ratio plain / rtq (1.0 = no overhead)", plain_cpu / rtq_cpu, "x",
               note="steadier than jobs/s when other processes share the cores")
    ctx.figure(NAME, "emulator load during these runs (max)", emulator_load * 100,
               "% of a core", "<", 50, note="the emulator is not the bottleneck")
    repeated = sum(r["x"]["repeated"] for rs in runs.values() for r in rs)
    ctx.figure(NAME, "repeated calls to X (a pair called twice)", repeated, "calls", "<=", 0)
    for kind in ("rtq", "plain"):
        ctx.detail(NAME, kind, [{"drain": r["drain"].as_dict(), "x": r["x"],
                                 "states": r["states"]} for r in runs[kind]])

    # 7. Redis commands per job, producer and worker side, from the last round of each.
    per_kind = {}
    for kind in ("rtq", "plain"):
        last = runs[kind][-1]
        producer = per_job(last["producer_commands"], jobs)
        worker = per_job(last["worker_commands"], jobs)
        per_kind[kind] = {"producer": producer, "worker": worker}
        ctx.detail("commands", kind, per_kind[kind])
    for kind, label in (("rtq", "rtq"), ("plain", "plain Celery")):
        producer = sum(per_kind[kind]["producer"].values())
        worker = sum(per_kind[kind]["worker"].values())
        top = ", ".join(f"{n} {c:g}" for n, c in list(per_kind[kind]["worker"].items())[:8])
        ctx.figure("commands", f"Redis commands per job, {label}: producer", producer, "cmds")
        ctx.figure("commands", f"Redis commands per job, {label}: worker", worker, "cmds",
                   note=top)
    trips = {kind: statistics.median(r["round_trips"] for r in runs[kind])
             for kind in ("rtq", "plain")}
    ctx.detail("commands", "round_trips_per_job", trips)
    ctx.figure("commands", "Redis round trips per job, worker side: rtq", trips["rtq"], "trips",
               note="INFO stats total_reads_processed: a pipeline or MULTI counts once")
    ctx.figure("commands", "Redis round trips per job, worker side: plain Celery",
               trips["plain"], "trips")
    rtq_total = sum(sum(v.values()) for v in per_kind["rtq"].values())
    plain_total = sum(sum(v.values()) for v in per_kind["plain"].values())
    ctx.figure("commands", "Redis commands per job, rtq / plain Celery", rtq_total / plain_total,
               "x", note="commands run inside Lua scripts count too "
               "(begin.lua runs ~15 for a job that calls X)")
