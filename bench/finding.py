"""Issue 15: finding jobs costs what the account holds, not what Redis holds.

Two private redis-servers' worth of state, measured in the same run: a baseline of 1,000 job
records, and 1,000,000 (with their index entries and intents, written by a Lua loader that uses
the production index function, lua/index.lua). In both, account A has the same 500 jobs (40 of
them waiting for a rate window); the rest belong to other accounts (in the large run one of
them, B, has 100,000). Each operation is timed in this process as `rtq jobs` and `rtq pair`
run it (median of repeated calls), with the Redis commands it sends:

    first page       rtq jobs --account A                 (50 jobs)
    filtered page    rtq jobs --account A --state waiting (walks A's 500 entries)
    pair             rtq pair A T                         (a waiting pair)
    walk             every entry of A's index             (JobIndex.newest_first)
    SCAN contrast    A's jobs found by SCAN MATCH rtq:job:* and each record's account_id

The ratio large / baseline is about 1 for the index-backed reads (bounded) and about the
keyspace's growth for the SCAN. Also: a filter on B that matches nothing stops at its bound
(5,000 entries examined), the CLI's wall time at 1,000,000 (Python start-up included), and the
index's bytes per job (MEMORY USAGE of the index streams over their entries).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from bench.context import Context
from worker.core.keys import Keys
from worker.domain.job_index import JobIndex
from worker.domain.messages import new_job_ids
from worker.embedded.servers import RedisServer
from worker.ops.finding import JobFinder, JobQuery
from worker.ops.lookup import read_pair

NAME = "finding"
ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_A = "1000000000000001"
ACCOUNT_B = "1000000000000002"
A_JOBS = 500
A_WAITING_EVERY = 12          # every 12th of A's jobs waits for a rate window (about 40)
B_JOBS = 100_000
OTHER_ACCOUNTS = 1000
BATCH = 5000
TTL = 604800

# Per job (ARGV group of 4): job id, account, tweet, state. Writes the record as the scripts
# leave it (a finished one with its history), the pair's intent, the index entry (index.lua's
# own function, so entries are packed as in production) and, for a waiting job, its place in
# the rate-window wait indexes.
LOADER = """
local now_ms, now_iso, ttl, seq = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4])
local history = '[{"attempt":1,"at":"' .. now_iso .. '","outcome":"succeeded","http_status":200}]'
for base = 5, #ARGV, 4 do
  local id, account, tweet, state = ARGV[base], ARGV[base + 1], ARGV[base + 2], ARGV[base + 3]
  local job = 'rtq:job:' .. id
  seq = seq + 1
  if state == 'succeeded' then
    redis.call('HSET', job, 'action', 'retweet', 'account_id', account, 'tweet_id', tweet,
      'state', 'succeeded', 'created_at_ms', now_ms, 'updated_at', now_iso, 'attempts', 1,
      'charged', 1, 'history', history, 'http_status', 200, 'reason', '', 'detail', '',
      'worker', 'bench:1')
  elseif state == 'deferred' then
    redis.call('HSET', job, 'action', 'retweet', 'account_id', account, 'tweet_id', tweet,
      'state', 'deferred', 'created_at_ms', now_ms, 'delivered', '1',
      'due_at_ms', now_ms + 900000)
    redis.call('ZADD', 'rtq:age:rate_window', now_ms, id)
    redis.call('ZADD', 'rtq:waiting:' .. account .. ':retweet', seq, id)
  else
    redis.call('HSET', job, 'action', 'retweet', 'account_id', account, 'tweet_id', tweet,
      'state', 'queued', 'created_at_ms', now_ms, 'delivered', '1')
  end
  redis.call('EXPIRE', job, ttl)
  index_job('rtq:account:' .. account .. ':jobs', id, now_ms, ttl)
  local intent = 'rtq:intent:' .. account .. ':' .. tweet
  redis.call('HSET', intent, 'seq', seq, 'job', id, 'action', 'retweet')
  redis.call('EXPIRE', intent, ttl)
end
return seq
"""


def _jobs(total: int) -> list[tuple[str, str]]:
    """(account, state) per job, in enqueue order: A's 500 spread through the whole run, B's
    100,000 (large run only), the rest round-robin over the other accounts."""
    plan: list[tuple[str, str]] = []
    others = [str(2 * 10**15 + i) for i in range(OTHER_ACCOUNTS if total > 10_000 else 10)]
    b_jobs = B_JOBS if total > 10_000 else 0
    a_every = total // A_JOBS
    a_done = b_done = 0
    for i in range(total):
        if i % a_every == 0 and a_done < A_JOBS:
            state = "deferred" if a_done % A_WAITING_EVERY == 5 else (
                "queued" if a_done % 50 == 7 else "succeeded")
            plan.append((ACCOUNT_A, state))
            a_done += 1
        elif b_done < b_jobs and i % 9 == 1:
            plan.append((ACCOUNT_B, "succeeded"))
            b_done += 1
        else:
            plan.append((others[i % len(others)], "deferred" if i % 20 == 3 else "succeeded"))
    return plan


def load(client: redis.Redis, total: int) -> dict[str, Any]:
    """Write `total` jobs; returns what the measurements need (A's waiting pair, timings)."""
    index_lua = (ROOT / "worker/domain/lua/index.lua").read_text()
    script = client.register_script(index_lua + LOADER)
    plan = _jobs(total)
    accounts = sorted({account for account, _ in plan})
    client.hset("rtq:accounts", mapping=dict.fromkeys(accounts, "sealed"))
    before = int(client.info("memory")["used_memory"])
    started = time.monotonic()
    seq = 0
    a_waiting_tweet = None
    now_ms = int(time.time() * 1000)
    now_iso = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    for start in range(0, total, BATCH):
        chunk = plan[start:start + BATCH]
        ids = new_job_ids(len(chunk))
        args: list[Any] = [now_ms, now_iso, TTL, seq]
        for offset, (job_id, (account, state)) in enumerate(zip(ids, chunk, strict=True)):
            tweet = str(10**17 + start + offset)
            args += [job_id, account, tweet, state]
            if account == ACCOUNT_A and state == "deferred":
                a_waiting_tweet = tweet
        seq = int(script(args=args))
    loaded = time.monotonic() - started
    used = int(client.info("memory")["used_memory"]) - before
    index_bytes = sum(client.memory_usage(f"rtq:account:{a}:jobs", samples=0) or 0
                      for a in accounts)
    entries = sum(int(client.xlen(f"rtq:account:{a}:jobs")) for a in accounts)
    return {"total": total, "loaded_s": loaded, "bytes_per_job": used / total,
            "index_bytes_per_job": index_bytes / entries, "a_waiting_tweet": a_waiting_tweet,
            "keys": int(client.dbsize())}


def commands(client: redis.Redis) -> int:
    return int(client.info("stats")["total_commands_processed"])


def timed(client: redis.Redis, call: Callable[[], object], repeat: int) -> tuple[float, int]:
    """Median ms of `repeat` calls (after one warm-up), and the Redis commands one call sends;
    `repeat` 1 (the SCAN over a large keyspace): one call, timed and counted."""
    if repeat > 1:
        call()
    before = commands(client)
    started = time.perf_counter()
    call()
    times = [(time.perf_counter() - started) * 1000]
    sent = commands(client) - before - 1  # the INFO itself
    for _ in range(repeat - 1):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), sent


def scan_for_account(client: redis.Redis, account: str) -> int:
    """The naive way, for contrast: every job key of the keyspace, each record's account."""
    found = 0
    batch: list[str] = []

    def check() -> int:
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.hget(key, "account_id")
        return sum(1 for owner in pipe.execute() if owner == account)

    for key in client.scan_iter("rtq:job:*", count=1000):
        batch.append(key)
        if len(batch) == 1000:
            found += check()
            batch = []
    if batch:
        found += check()
    return found


def measure(client: redis.Redis, info: dict[str, Any], repeat: int,
            scan_repeat: int) -> dict[str, Any]:
    keys = Keys()
    finder = JobFinder(client, keys)
    index = JobIndex(client, keys)
    tweet = info["a_waiting_tweet"]
    first = JobQuery.parse(ACCOUNT_A)
    waiting = JobQuery.parse(ACCOUNT_A, state="waiting")
    page = finder.jobs(waiting)
    assert len(page.jobs) == len(range(5, A_JOBS, A_WAITING_EVERY)) and page.next_cursor is None
    assert page.examined == A_JOBS
    assert len(list(index.newest_first(ACCOUNT_A))) == A_JOBS
    results = {
        "first page": timed(client, lambda: finder.jobs(first), repeat),
        "filtered page": timed(client, lambda: finder.jobs(waiting), repeat),
        "pair": timed(client, lambda: read_pair(client, keys, ACCOUNT_A, tweet,
                                                known_state_ttl=2592000), repeat),
        "walk": timed(client, lambda: sum(1 for _ in index.newest_first(ACCOUNT_A)), repeat),
        "scan": timed(client, lambda: scan_for_account(client, ACCOUNT_A), scan_repeat),
    }
    if info["total"] <= 10_000:
        assert scan_for_account(client, ACCOUNT_A) == A_JOBS
    else:
        bounded = JobQuery.parse(ACCOUNT_B, state="dead")
        page = finder.jobs(bounded)
        assert page.jobs == [] and page.examined == 5000 and page.next_cursor
        results["bounded filter"] = timed(client, lambda: finder.jobs(bounded), repeat)
    return results


def cli_wall(server: RedisServer, repeat: int) -> float:
    env = {"RTQ_REDIS_URL": server.url, "PATH": str(Path(sys.executable).parent)}
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run([str(Path(sys.executable).parent / "rtq"), "jobs", "--account",
                               ACCOUNT_A, "--json"], env=env, capture_output=True, check=False)
        times.append((time.perf_counter() - started) * 1000)
        assert done.returncode == 0, done.stderr
    return statistics.median(times)


def run(ctx: Context) -> None:
    total = ctx.scale(1_000_000, 200_000)
    repeat = ctx.scale(30, 10)
    sizes = {"baseline": 1000, "large": total}
    measured: dict[str, dict[str, Any]] = {}
    loads: dict[str, dict[str, Any]] = {}
    wall = 0.0
    with tempfile.TemporaryDirectory(prefix="rtq-bench-finding-") as workdir, \
            RedisServer(directory=workdir) as server:
        client = redis.Redis(port=server.port, decode_responses=True, socket_timeout=120)
        for label, size in sizes.items():
            client.flushall()
            loads[label] = load(client, size)
            print(f"   {label}: {size:,} jobs loaded in {loads[label]['loaded_s']:.1f} s "
                  f"({loads[label]['keys']:,} keys)", flush=True)
            measured[label] = measure(client, loads[label], repeat,
                                      1 if label == "large" else repeat)
            if label == "large":
                wall = cli_wall(server, ctx.scale(5, 3))
        client.close()
    ctx.detail(NAME, "loads", loads)
    ctx.detail(NAME, "measured", {k: {op: {"ms": v[0], "commands": v[1]} for op, v in m.items()}
                                  for k, m in measured.items()})
    base, large = measured["baseline"], measured["large"]
    what = {"first page": "`rtq jobs --account A` first page (50 jobs)",
            "filtered page": "`rtq jobs --account A --state waiting` (walks A's 500 entries)",
            "pair": "`rtq pair A T` (a waiting pair)",
            "walk": "walking A's index (500 entries)"}
    for op, label in what.items():
        ratio = large[op][0] / base[op][0]
        ctx.figure(NAME, f"{label}: {total:,} / 1,000 records", ratio, "x", "<", 2.0,
                   note=f"{large[op][0]:.2f} vs {base[op][0]:.2f} ms; {large[op][1]} vs "
                   f"{base[op][1]} Redis commands")
    ctx.figure(NAME, f"contrast: A's jobs by keyspace SCAN, {total:,} / 1,000 records",
               large["scan"][0] / base["scan"][0], "x",
               note=f"{large['scan'][0]:,.0f} vs {base['scan'][0]:.1f} ms; "
               f"{large['scan'][1]:,} vs {base['scan'][1]:,} Redis commands")
    ctx.figure(NAME, f"filter matching nothing on B ({B_JOBS:,} jobs): one call",
               large["bounded filter"][0], "ms", "<", 250,
               note=f"examines 5,000 entries and returns a cursor; "
               f"{large['bounded filter'][1]} Redis commands")
    ctx.figure(NAME, f"`rtq jobs --account A --json` wall time at {total:,} records", wall, "ms",
               note="a new process: Python start-up and imports included")
    ctx.figure(NAME, "job index bytes per job (rtq:account:{id}:jobs)",
               loads["large"]["index_bytes_per_job"], "B",
               note=f"MEMORY USAGE of the streams over their entries, {total:,} entries in "
               f"{OTHER_ACCOUNTS + 2:,} accounts")
    ctx.figure(NAME, "Redis bytes per loaded job (record, intent, index entry)",
               loads["large"]["bytes_per_job"], "B",
               note="used_memory delta; 90% finished records with a one-attempt history")
