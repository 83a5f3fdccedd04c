"""What-if: the product changes this suite recommends, measured in the same run as the product.

Each variant is a copy of worker/ and producers/ with diffs from bench/patches/ applied (in
order); its workers run from that copy, so nothing in the repository changes. A diff that no
longer applies to the current tree is reported and its variants skipped.

- the task's hot path in one process (bench/inproc.py): CPU per job of JobService.handle for
  the shipped tree and each variant in OVERHEAD_VARIANTS (steady: no Celery, no scheduling
  noise). None is pending: A (settle's bare EVALSHAs), B (credentials returned by begin.lua)
  and C (deliver.lua in kombu's MULTI) shipped with hiredis, D (the X session reading the
  environment once) in commit 2ccb8b2;
- end to end (prefork 2, 0 ms, alternating with plain Celery like the overhead scenario): the
  same variants, and the last with BENCH_HIREDIS on the path when it names a directory
  (`pip install --target DIR hiredis`; plain Celery then gets it too; moot since redis[hiredis]
  is a dependency, kept for trying another hiredis build);
- at 100 ms API latency with 2 x threads 64: shipped, the last variant and plain Celery;
- `rtq enqueue FILE` with and without hiredis (when BENCH_HIREDIS is set).
(E, released jobs behind fresh ones, shipped with the fair lanes: worker/domain/lanes.py.)

Not part of the default run (it measures proposals, not the product): `python -m bench whatif`.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any

from bench import enqueue, hotspots, overhead, throughput
from bench.context import Context
from bench.harness import ROOT, Setup

NAME = "whatif"
PATCHES = Path(__file__).resolve().parent / "patches"
# (name, diffs applied in order); empty while no worker change is proposed.
OVERHEAD_VARIANTS: tuple[tuple[str, tuple[str, ...]], ...] = ()


def variant(ctx: Context, name: str, diffs: tuple[str, ...]) -> Path | None:
    """A patched copy of the source tree, or None (reported) if a diff does not apply."""
    root = ctx.stack.workdir / "variants" / name.split(":", maxsplit=1)[0].replace("+", "_")
    if root.exists():
        return root
    root.mkdir(parents=True)
    for package in ("worker", "producers"):
        shutil.copytree(ROOT / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for diff in diffs:
        done = subprocess.run(["patch", "-p1", "--forward", "--batch", "--silent", "-d",
                               str(root), "-i", str(PATCHES / diff)], capture_output=True,
                              text=True, check=False)
        if done.returncode != 0:
            problem = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["?"]
            ctx.figure(NAME, f"{name}: {diff} does not apply to this tree", None, "",
                       note=problem[0][:150])
            shutil.rmtree(root)
            return None
    return root


def run(ctx: Context) -> None:
    jobs = ctx.scale(3000, 1500)
    rounds = ctx.scale(2, 1)
    hiredis = os.environ.get("BENCH_HIREDIS")
    roots: dict[str, Path | None] = {"shipped": None}
    envs: dict[str, dict[str, str]] = {"shipped": {}, "plain": {}}
    for name, diffs in OVERHEAD_VARIANTS:
        root = variant(ctx, name, diffs)
        if root is not None:
            roots[name] = root
            envs[name] = {}
    last = OVERHEAD_VARIANTS[-1][0] if OVERHEAD_VARIANTS else "shipped"
    inproc: dict[str, dict[str, Any]] = {}
    for _ in range(rounds):
        for name, root in roots.items():
            result = hotspots.inproc(ctx.stack, ctx.scale(4000, 1500), root=root)
            previous = inproc.get(name)
            if previous is None or result["handle_ms"] < previous["handle_ms"]:
                inproc[name] = result  # the least disturbed of the rounds
    ctx.detail(NAME, "in_process", inproc)
    for name, result in inproc.items():
        saved = inproc["shipped"]["handle_ms"] - result["handle_ms"]
        ctx.figure(NAME, f"{name}: JobService.handle CPU per job, in one process",
                   result["handle_ms"], "ms",
                   note="" if name == "shipped" else f"{saved:+.3f} ms saved vs shipped "
                   f"({saved / inproc['shipped']['handle_ms']:.0%}); plain POST "
                   f"{result['plain_post_ms']:.3f} ms")
    if hiredis and last in roots:
        name = f"{last.split(':')[0]} + hiredis (redis[hiredis])"
        roots[name] = roots[last]
        envs[name] = {"PYTHONPATH": f"{hiredis}:{ROOT}"}
        envs["plain + hiredis"] = {"PYTHONPATH": f"{hiredis}:{ROOT}"}
    runs: dict[str, list[Any]] = {name: [] for name in envs}
    for _ in range(rounds):
        for name, env in envs.items():
            plain = name.startswith("plain")
            outcome = overhead.measure(ctx, "plain" if plain else "rtq", jobs,
                                       root=roots.get(name), env=env)
            runs[name].append(outcome["drain"])
            d = outcome["drain"]
            print(f"    {name[:44]:<44} {d.rate:6.1f} jobs/s  {d.worker_cpu_ms_per_job:5.2f} "
                  f"ms CPU/job  X {outcome['x']['statuses']}", flush=True)
    cpu = {n: statistics.median(d.worker_cpu_ms_per_job for d in r) for n, r in runs.items()}
    rate = {n: statistics.median(d.rate for d in r) for n, r in runs.items()}
    ctx.detail(NAME, "overhead", {n: [d.as_dict() for d in r] for n, r in runs.items()})
    for name in envs:
        if name.startswith("plain"):
            continue
        plain = "plain + hiredis" if "hiredis" in name else "plain"
        ctx.figure(NAME, f"{name}: rtq / plain Celery (jobs/s, prefork 2, 0 ms)",
                   rate[name] / rate[plain], "x", ">=", 0.9,
                   note=f"{rate[name]:.0f} vs {rate[plain]:.0f} jobs/s; CPU {cpu[name]:.2f} vs "
                   f"{cpu[plain]:.2f} ms/job ({cpu[plain] / cpu[name]:.2f}x)")
        if name != "shipped":
            ctx.figure(NAME, f"{name}: worker CPU per job saved vs shipped",
                       cpu["shipped"] - cpu[name], "ms",
                       note=f"{(cpu['shipped'] - cpu[name]) / cpu['shipped']:.0%}")

    # At 100 ms API latency, the throughput scenario's usual winner here.
    setup = Setup("threads", 64, instances=2)
    latency_runs: dict[str, list[float]] = {
        name: [] for name in ("shipped", last, "plain") if name in roots or name == "plain"}
    for _ in range(rounds):
        for name, rates in latency_runs.items():
            drained = throughput.measure(ctx, setup, plain=name == "plain",
                                         root=roots.get(name))[0]
            rates.append(drained.rate)
            print(f"    100 ms, {setup.label}: {name[:40]:<40} {drained.rate:6.1f} jobs/s",
                  flush=True)
    at100 = {n: statistics.median(r) for n, r in latency_runs.items()}
    ctx.detail(NAME, "at_100_ms", latency_runs)
    for name in (n for n in at100 if n != "plain"):
        ctx.figure(NAME, f"{name}: jobs/s at 100 ms, {setup.label}", at100[name], "jobs/s",
                   ">=", 400, note=f"rtq / plain Celery {at100[name] / at100['plain']:.2f} "
                   f"(plain {at100['plain']:.0f} jobs/s)")

    if hiredis:
        jobs = ctx.scale(100_000, 20_000)
        without, queued = enqueue.cli_enqueue(ctx.stack, jobs)
        with_hiredis, queued_too = enqueue.cli_enqueue(
            ctx.stack, jobs, {"PYTHONPATH": f"{hiredis}:{ROOT}"})
        ctx.figure(NAME, f"hiredis: `rtq enqueue FILE`, {jobs:,} jobs", jobs / with_hiredis,
                   "jobs/s", ">=", 20_000, note=f"without hiredis, same run: "
                   f"{jobs / without:,.0f} jobs/s ({queued:,} / {queued_too:,} queued)")

