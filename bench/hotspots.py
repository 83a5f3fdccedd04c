"""Profile: where a worker's CPU goes on the hot path (py-spy sampling the real processes).

An rtq worker (the overhead scenario's setup, 0 ms API latency: CPU-bound) drains a backlog
while py-spy samples its main process and pool children without pausing them (idle waits are
not sampled). Each sample is filed under the deepest "marker" frame on its stack (rules below),
and each category's share of a process's samples is turned into CPU milliseconds per job with
the CPU time /proc says the process used and the jobs completed during the profile.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.context import Context
from bench.harness import PYTHON, ROOT, UNACKED, Setup, Stack, cpu_seconds
from bench.report import RESULTS_DIR
from worker.domain.lanes import queue_depth

NAME = "profile"
SETUP = Setup("prefork", 2)
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")

# (substring of a frame, category): the deepest frame that matches decides a sample's category.
CHILD_MARKERS = (
    ("app/trace.py:", "Celery task tracing (trace_task, signals, logging 'succeeded')"),
    ("worker/celery_adapter/tasks.py:", "rtq task wrapper"),
    ("worker/domain/service.py:JobService.handle", "rtq service: parse, log"),
    ("worker/domain/service.py:JobService._run", "rtq begin.lua round trip (+ building its args)"),
    ("worker/domain/messages.py:build_message", "rtq build_message (begin's parking copy)"),
    ("worker/domain/accounts.py:AccountStore.unseal", "rtq credentials: decrypt + cache"),
    ("worker/domain/service.py:JobService._call", "rtq service: call bookkeeping"),
    ("worker/x_api/client.py:XClient.set_retweeted", "HTTP call to X (requests, urllib3)"),
    ("requests_oauthlib/oauth1_auth.py:", "OAuth1 signing (oauthlib)"),
    ("worker/x_api/client.py:read_answer", "reading X's answer"),
    ("worker/domain/service.py:JobService._settle", "rtq settle round trip (settle.lua)"),
    ("redis/client.py:Pipeline.load_scripts", "redis-py SCRIPT EXISTS before each pipeline"),
    ("worker/domain/service.py:JobService._log", "rtq per-job log line"),
)
MAIN_MARKERS = (
    ("worker/loops.py:asynloop", "Celery event loop, other"),
    ("worker/celery_adapter/transport.py:GuardedChannel._brpop_read", "kombu BRPOP read + deliver"),
    ("worker/celery_adapter/intake.py:note_delivery", "rtq deliver.lua round trip (note_delivery)"),
    ("worker/celery_adapter/intake.py:delivery_call", "rtq deliver.lua arguments (message decode)"),
    ("transport/redis.py:QoS.append", "kombu unacked bookkeeping (MULTI/EXEC)"),
    ("worker/celery_adapter/transport.py:DeliveringQoS.append",
     "kombu unacked bookkeeping + rtq deliver.lua (one MULTI/EXEC)"),
    ("worker/celery_adapter/consumer.py:", "rtq consumer guard (body check)"),
    ("worker/strategy.py:", "Celery strategy: request, 'received' log"),
    ("kombu/message.py:Message.ack", "kombu ack (MULTI/EXEC)"),
    ("events/dispatcher.py:", "task events (-E): PUBLISH"),
    ("concurrency/asynpool.py:", "prefork pool IPC"),
    ("worker/domain/parking.py:", "rtq mover thread"),
)


def _py_spy() -> str | None:
    beside = Path(PYTHON).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def short(frame: str) -> str:
    """`func (/long/path/pkg/mod.py:12)` -> `pkg/mod.py:func`."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "lib/python3.11/", f"{ROOT}/"):  # the clone, wherever it is
        if marker in path:
            path = path.split(marker, 1)[1]
    parts = path.split("/")
    return f"{'/'.join(parts[-2:])}:{match['func']}"


def classify(frames: list[str], markers: tuple[tuple[str, str], ...]) -> str:
    category = "other"
    for frame in frames:
        for needle, name in markers:
            if needle in frame:
                category = name
    return category


def parse(raw: str) -> dict[str, dict[str, Any]]:
    """py-spy raw (collapsed) stacks -> per role (main / pool child): categories, self frames."""
    totals: Counter[str] = Counter()
    categories: dict[str, Counter[str]] = {"main": Counter(), "child": Counter()}
    own: dict[str, Counter[str]] = {"main": Counter(), "child": Counter()}
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [short(f) for f in stack.split(";")
                  if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        # Pool children are forked from the main process: their stacks start inside it.
        role = "child" if any("Worker.workloop" in f for f in frames) else "main"
        totals[role] += count
        markers = CHILD_MARKERS if role == "child" else MAIN_MARKERS
        categories[role][classify(frames, markers)] += count
        own[role][frames[-1]] += count
    out: dict[str, dict[str, Any]] = {}
    for role in ("child", "main"):
        total = totals[role]
        if total:
            out[role] = {
                "samples": total,
                "categories": {name: c / total for name, c in categories[role].most_common()},
                "self": [{"frame": f, "share": round(c / total, 4)}
                         for f, c in own[role].most_common(20)],
            }
    return out


def inproc(stack: Stack, jobs: int, root: Path | None = None,
           env: dict[str, str] | None = None) -> dict[str, Any]:
    """bench/inproc.py against this stack, from `root` (another source tree) if given."""
    stack.reset(latency_ms=0)
    done = subprocess.run([PYTHON, "-m", "bench.inproc", str(jobs)], cwd=root or ROOT,
                          env={**stack.env, **(env or {})}, capture_output=True, text=True,
                          check=False, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"bench.inproc failed: {done.stderr[-800:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report_inproc(ctx: Context) -> None:
    result = inproc(ctx.stack, ctx.scale(4000, 1500))
    ctx.detail(NAME, "in_process", result)
    extra = result["handle_ms"] - result["plain_post_ms"]
    print(f"    in one process, no Celery: JobService.handle {result['handle_ms']:.3f} ms/job, "
          f"plain signed POST {result['plain_post_ms']:.3f} ms/job")
    for step, ms in sorted(result["steps_ms"].items(), key=lambda kv: -kv[1]):
        print(f"      {ms:6.3f} ms/job  {step}")
    ctx.figure(NAME, "in-process: rtq's JobService.handle per job (no Celery)",
               result["handle_ms"], "ms", note="; ".join(
                   f"{k} {v:.3f}" for k, v in sorted(result["steps_ms"].items(),
                                                     key=lambda kv: -kv[1])))
    ctx.figure(NAME, "in-process: plain signed POST per job (the baseline task's body)",
               result["plain_post_ms"], "ms")
    ctx.figure(NAME, "in-process: CPU rtq adds to each job in the pool process", extra, "ms",
               note=f"{extra / result['handle_ms']:.0%} of the task's CPU")
    ctx.figure(NAME, "in-process: signed POST with the environment read once (trust_env off)",
               result["plain_post_trust_env_off_ms"], "ms",
               note=f"requests scans all {result['environment_variables']} environment "
               "variables for proxies on every call")


def run(ctx: Context) -> None:
    report_inproc(ctx)
    py_spy = _py_spy()
    if py_spy is None:
        ctx.figure(NAME, "profile", None, "", note="py-spy not installed: "
                   ".venv/bin/pip install py-spy")
        return
    stack = ctx.stack
    seconds = ctx.scale(10, 5)
    jobs = ctx.scale(5000, 2500)
    stack.reset(latency_ms=0)
    stack.enqueue_rtq(stack.requests(jobs))
    queue = stack.settings.queue_key if stack.settings else "rtq"
    out = stack.workdir / "profile.txt"

    def left() -> int:
        return queue_depth(stack.client, queue) + int(stack.client.hlen(UNACKED))

    with stack.workers(SETUP, name="p") as group:
        group.start()
        while queue_depth(stack.client, queue) >= jobs:
            time.sleep(0.02)
        time.sleep(1.0)  # warm-up: imports, connections, first signers
        main_pid = group.workers[0].pid
        children = [p for p in group.pids() if p != main_pid]
        before = (left(), cpu_seconds([main_pid]), cpu_seconds(children))
        completed = subprocess.run(
            [py_spy, "record", "--pid", str(main_pid), "--subprocesses", "--nonblocking",
             "--rate", "200", "--duration", str(seconds), "--format", "raw", "--output",
             str(out)], capture_output=True, text=True, check=False, timeout=seconds + 60)
        after = (left(), cpu_seconds([main_pid]), cpu_seconds(children))
        group.kill()
    if completed.returncode != 0 or not out.exists():
        ctx.figure(NAME, "profile", None, "", note=f"py-spy failed: "
                   f"{completed.stderr.strip()[-300:]}")
        return
    done = max(before[0] - after[0], 1)
    cpu_ms = {"main": (after[1] - before[1]) * 1000 / done,
              "child": (after[2] - before[2]) * 1000 / done}
    raw = out.read_text()
    (RESULTS_DIR / "profile.collapsed").write_text(raw)  # for flamegraph.pl or speedscope
    profile = parse(raw)
    ctx.detail(NAME, "setup", f"rtq worker {SETUP.label}, 0 ms API latency, {seconds} s at "
               f"200 Hz, {done} jobs completed while sampling (py-spy itself slows the worker)")
    ctx.detail(NAME, "processes", profile)
    hot: dict[str, list[dict[str, Any]]] = {}
    for role, label in (("child", "pool children (run the task)"),
                        ("main", "main process (consumer)")):
        if role not in profile:
            continue
        print(f"    {label}: {cpu_ms[role]:.2f} ms CPU per job, {profile[role]['samples']} samples")
        rows = []
        for name, share in profile[role]["categories"].items():
            per_job = share * cpu_ms[role]
            rows.append({"frame": name, "share": round(share, 4), "ms_per_job": round(per_job, 3)})
            print(f"      {share * 100:5.1f}%  {per_job:5.3f} ms/job  {name}")
        hot[f"{label}: {cpu_ms[role]:.2f} ms CPU per job"] = rows
        ctx.figure(NAME, f"{label}: CPU per job while profiled", cpu_ms[role], "ms")
    ctx.detail(NAME, "hot_spots", hot)
    child = profile.get("child", {}).get("categories", {})
    rtq_child = sum(share for name, share in child.items() if name.startswith("rtq "))
    main = profile.get("main", {}).get("categories", {})
    rtq_main = sum(share for name, share in main.items() if name.startswith("rtq "))
    ctx.figure(NAME, "rtq's own code in the pool children (begin, settle, credentials, ...)",
               rtq_child * cpu_ms.get("child", 0), "ms/job",
               note=f"{rtq_child:.0%} of child CPU")
    ctx.figure(NAME, "rtq's own code in the main process (deliver.lua, body check, mover)",
               rtq_main * cpu_ms.get("main", 0), "ms/job", note=f"{rtq_main:.0%} of main CPU")
    events = main.get("task events (-E): PUBLISH", 0.0)
    ctx.figure(NAME, "task events (-E, Flower) in the main process", events * cpu_ms.get("main", 0),
               "ms/job", note=f"{events:.0%} of main CPU; plain Celery pays it too")
