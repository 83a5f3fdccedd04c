"""2. Latency-bound throughput: at 100 ms API latency, which worker setup does the most jobs/s
on this machine (prefork, threads, gevent; concurrency; worker processes), against a naive
sequential loop and against plain Celery with the winning setup.

Each setup drains a preloaded backlog; the rate is measured over a fixed window after warm-up
(the rest of the backlog is dropped), so a slow setup costs no more time than a fast one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.context import Context, call_summary, x_calls
from bench.emulator import naive_loop
from bench.harness import PLAIN_QUEUE, Drain, Setup, drain

NAME = "throughput"
LATENCY_MS = 100
FULL = (
    Setup("prefork", 16),
    Setup("threads", 64),
    Setup("gevent", 100),
    Setup("gevent", 200),
    Setup("threads", 64, instances=2),
    Setup("gevent", 100, instances=2),
)
QUICK = (
    Setup("threads", 64),
    Setup("gevent", 100),
    Setup("gevent", 100, instances=2),
)


def measure(ctx: Context, setup: Setup, *, plain: bool = False, window: float = 6.0,
            latency_ms: float = LATENCY_MS, root: Path | None = None,
            ) -> tuple[Drain, dict[str, Any], list[str]]:
    stack = ctx.stack
    stack.reset(latency_ms=latency_ms)
    backlog = ctx.scale(9000, 6000)
    requests = stack.requests(backlog)
    if plain:
        stack.enqueue_plain(requests)
    else:
        stack.enqueue_rtq(requests)
    queue = PLAIN_QUEUE if plain else (stack.settings.queue_key if stack.settings else "rtq")
    label = f"{'plain' if plain else 'rtq'} {setup.label}"
    with stack.workers(setup, plain=plain, name="t", root=root) as group:
        result = drain(stack, group, queue, backlog, label, warmup=1.5, window=window)
        logs = [worker.log() for worker in group.workers]
        group.kill()
    warnings = sorted({line.split("] ", 1)[-1][:160] for log in logs
                       for line in log.splitlines() if "WARNING" in line or "ERROR" in line})
    return result, call_summary(x_calls(stack)), warnings


def run(ctx: Context) -> None:
    setups = QUICK if ctx.quick else FULL
    window = ctx.scale(6, 4)
    measured: list[tuple[Setup, Drain]] = []
    for setup in setups:
        result, calls, warnings = measure(ctx, setup, window=window)
        measured.append((setup, result))
        memory = result.memory
        print(f"    rtq {setup.label:<16} {result.rate:6.1f} jobs/s  "
              f"{result.worker_cpu_ms_per_job:5.2f} ms CPU/job  "
              f"RSS {memory.get('rss_kb', 0) / 1024:5.0f} MB in {memory.get('processes')} procs  "
              f"emulator {result.emulator_load:.0%}  X {calls['statuses']}"
              + (f"  warnings: {warnings[:2]}" if warnings else ""), flush=True)
        ctx.detail(NAME, setup.label, {"drain": result.as_dict(), "x": calls,
                                       "log_warnings": warnings[:10]})
        ctx.figure(NAME, f"rtq {setup.label} at {LATENCY_MS} ms", result.rate, "jobs/s",
                   note=f"{result.worker_cpu_ms_per_job:.2f} ms CPU/job, "
                   f"{memory.get('pss_kb', 0) / 1024:.0f} MB PSS"
                   + (f"; {len(warnings)} kinds of warnings in the log" if warnings else ""))
    best_setup, best = max(measured, key=lambda item: item[1].rate)
    ctx.memo["recommended"] = best_setup
    ctx.detail(NAME, "recommended", best_setup.label)

    naive = naive_loop(ctx.stack, ctx.scale(4, 3))
    ctx.detail(NAME, "naive_loop", naive)
    plain, plain_calls, _ = measure(ctx, best_setup, plain=True, window=window)
    ctx.detail(NAME, f"plain {best_setup.label}", {"drain": plain.as_dict(), "x": plain_calls})
    ctx.figure(NAME, f"best setup on this machine: {best_setup.label} "
               f"(`rtq worker {' '.join(best_setup.celery_args())}`, {best_setup.instances} "
               f"process{'es' if best_setup.instances > 1 else ''})",
               best.rate, "jobs/s", ">=", 400)
    ctx.figure(NAME, f"naive sequential loop at {LATENCY_MS} ms (one session, signing each call)",
               naive["rate"], "jobs/s")
    ctx.figure(NAME, "best setup / naive loop", best.rate / naive["rate"], "x", ">=", 40)
    ctx.figure(NAME, f"plain Celery, same setup ({best_setup.label}) at {LATENCY_MS} ms",
               plain.rate, "jobs/s")
    ctx.figure(NAME, "rtq / plain Celery at 100 ms, same setup", best.rate / plain.rate, "x",
               ">=", 0.9)
