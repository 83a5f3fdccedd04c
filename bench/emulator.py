"""The emulator's capacity (it must not be the bottleneck), and the naive sequential loop.

Capacity: an aiohttp client process keeps many signed requests in flight; the emulator's CPU
time is read from /proc, so requests per CPU-second is what it serves on one dedicated core
(the figure holds even when the client, not the emulator, limits the wall-clock rate).
"""

from __future__ import annotations

import json
import subprocess
import time

import requests
from requests_oauthlib import OAuth1

from bench.context import Context
from bench.harness import PYTHON, ROOT, Stack, cpu_seconds

NAME = "emulator"


def capacity(stack: Stack, seconds: float, concurrency: int = 64,
             processes: int = 1) -> dict[str, float]:
    stack.reset(latency_ms=0)
    accounts = [{**a.credentials, "user_id": a.account_id} for a in stack.accounts]
    creds = stack.workdir / "loadgen-accounts.json"
    creds.write_text(json.dumps(accounts))
    assert stack.emulator is not None
    pid = stack.pid_of("emulator")
    argv = [PYTHON, "-m", "bench.loadgen", stack.emulator.url, str(creds), str(seconds),
            str(concurrency)]
    before = cpu_seconds([pid])
    started = time.monotonic()
    clients = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=stack.env)
               for _ in range(processes)]
    outputs = [json.loads(client.communicate(timeout=seconds + 60)[0]) for client in clients]
    wall = time.monotonic() - started
    cpu = cpu_seconds([pid]) - before
    answered = sum(o["requests"] for o in outputs)
    ok = sum(o["statuses"].get("200", 0) for o in outputs)
    return {"requests": answered, "seconds": max(o["seconds"] for o in outputs),
            "rate": sum(o["requests"] / o["seconds"] for o in outputs),
            "per_core": answered / max(cpu, 1e-6), "emulator_cpu_share": cpu / wall,
            "client_cpu_s": sum(o["client_cpu_s"] for o in outputs),
            "ok": ok / max(answered, 1)}


def naive_loop(stack: Stack, seconds: float) -> dict[str, float]:
    """One requests session, signing each call, one call after another (no queue at all)."""
    assert stack.emulator is not None
    session = requests.Session()
    account = stack.accounts[0]
    creds = account.credentials
    signer = OAuth1(creds["consumer_key"], client_secret=creds["consumer_secret"],
                    resource_owner_key=creds["access_token"],
                    resource_owner_secret=creds["access_token_secret"])
    url = f"{stack.emulator.url}/2/users/{account.account_id}/retweets"
    calls = 0
    started = time.monotonic()
    for tweet in stack.tweets(100_000):
        response = session.post(url, json={"tweet_id": tweet}, auth=signer, timeout=10)
        response.raise_for_status()
        calls += 1
        if time.monotonic() - started >= seconds:
            break
    elapsed = time.monotonic() - started
    session.close()
    return {"calls": calls, "seconds": elapsed, "rate": calls / elapsed}


def run(ctx: Context) -> None:
    seconds = ctx.scale(6, 3)
    result = capacity(ctx.stack, seconds)
    ctx.detail(NAME, "capacity", result)
    ctx.memo["emulator_per_core"] = result["per_core"]
    ctx.figure(NAME, "emulator: signed requests/s served to one aiohttp client (64 in flight)",
               result["rate"], "req/s",
               note=f"emulator at {result['emulator_cpu_share']:.0%} of a core; "
               f"{result['ok']:.0%} answered 200")
    ctx.figure(NAME, "emulator capacity per core (requests / emulator CPU-second)",
               result["per_core"], "req/s", ">=", 2000,
               note="thousands per second on one core: never the bottleneck below")
