"""Compare: the shipped tree against an earlier commit, measured in the same run.

    BENCH_COMPARE_REF=<commit> python -m bench compare

For a change that must not make the worker slower (issue 17's layout redesign, say): the
commit's worker/, producers/ and bench/ are extracted (`git archive`) into the run's work
directory, and the two trees are measured alternately, round after round, on the same stack:
- in one process (bench/inproc.py, each tree running its own copy): CPU per job of
  `JobService.handle`, free of Celery and scheduling noise, the least disturbed round kept;
- end to end as the overhead scenario measures it (prefork 2, 0 ms API latency): worker CPU per
  job and jobs/s of the shipped tree, the earlier tree and plain Celery, medians of the rounds.
Not part of the default run (it measures a change, not the product).
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from bench import hotspots, overhead
from bench.context import Context
from bench.harness import ROOT

NAME = "compare"


def extract(ctx: Context, ref: str) -> Path:
    root = ctx.stack.workdir / "compare" / ref.replace("/", "_")
    if not root.exists():
        archive = subprocess.run(["git", "archive", ref, "worker", "producers", "bench"],
                                 cwd=ROOT, capture_output=True, check=True).stdout
        root.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(root, filter="data")
    return root


def run(ctx: Context) -> None:
    ref = os.environ.get("BENCH_COMPARE_REF")
    if not ref:
        ctx.figure(NAME, "BENCH_COMPARE_REF is not set: nothing to compare", None, "")
        return
    commit = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()
    earlier = extract(ctx, ref)
    roots: dict[str, Path | None] = {"shipped": None, commit: earlier}
    rounds = ctx.scale(3, 2)
    inproc: dict[str, dict[str, Any]] = {}
    for _ in range(rounds):
        for name, root in roots.items():
            result = hotspots.inproc(ctx.stack, ctx.scale(4000, 1500), root=root)
            if name not in inproc or result["handle_ms"] < inproc[name]["handle_ms"]:
                inproc[name] = result
    ctx.detail(NAME, "in_process", inproc)
    shipped_ms, earlier_ms = inproc["shipped"]["handle_ms"], inproc[commit]["handle_ms"]
    ctx.figure(NAME, "JobService.handle CPU per job, in one process: shipped", shipped_ms, "ms")
    ctx.figure(NAME, f"JobService.handle CPU per job, in one process: {commit}", earlier_ms,
               "ms", note=f"shipped / {commit} {shipped_ms / earlier_ms:.3f}x")
    jobs = ctx.scale(3000, 1500)
    runs: dict[str, list[Any]] = {"shipped": [], commit: [], "plain": []}
    for _ in range(rounds):
        for name, drains in runs.items():
            outcome = overhead.measure(ctx, "plain" if name == "plain" else "rtq", jobs,
                                       root=roots.get(name))
            drain = outcome["drain"]
            drains.append(drain)
            print(f"    {name:<10} {drain.rate:7.1f} jobs/s  {drain.worker_cpu_ms_per_job:5.2f} "
                  f"ms CPU/job", flush=True)
    ctx.detail(NAME, "overhead", {n: [d.as_dict() for d in r] for n, r in runs.items()})
    cpu = {n: statistics.median(d.worker_cpu_ms_per_job for d in r) for n, r in runs.items()}
    rate = {n: statistics.median(d.rate for d in r) for n, r in runs.items()}
    for name in ("shipped", commit):
        ctx.figure(NAME, f"worker CPU per job, end to end: {name}", cpu[name], "ms",
                   note=f"plain Celery {cpu['plain']:.2f} ms; plain / {name} "
                   f"{cpu['plain'] / cpu[name]:.3f}x; {rate[name]:.0f} jobs/s (plain "
                   f"{rate['plain']:.0f})")
    ctx.figure(NAME, f"worker CPU per job, shipped / {commit}", cpu["shipped"] / cpu[commit],
               "x", note="1.0: no change; per-round figures in the JSON")
