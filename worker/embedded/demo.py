"""`rtq demo`: the main job end to end on an embedded default.

Starts a private redis-server, the X emulator and a worker; registers demo accounts; enqueues a
mix that shows a retweet, dedup, an undo, a retried server error, a rate-limited account and a
dead-lettered job; shows progress and a final table; then stops everything it started.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import click
from cryptography.fernet import Fernet

from fake_x import EmulatorAdmin, EmulatorProcess
from producers import Producer
from worker.core.keys import Keys
from worker.core.settings import Settings
from worker.domain.accounts import AccountStore, fernet_for
from worker.domain.dlq import DeadLetters
from worker.domain.jobs import TERMINAL_STATES, JobStatus, JobStore
from worker.embedded.servers import RedisServer, WorkerProcess
from worker.x_api.credentials import Credentials

# The rate-limited account gets this many calls per window (the others X's usual 50).
LIMITED_CALLS = 2
RATE_WINDOW = 6
DEADLINE = 45.0


@dataclass(frozen=True)
class Planned:
    label: str
    action: str
    account: str
    tweet: str


def say(text: str = "") -> None:
    click.echo(text)


def run_demo() -> int:
    say("rtq demo: a private redis-server, the X emulator and one worker, all on 127.0.0.1")
    with tempfile.TemporaryDirectory(prefix="rtq-demo-") as workdir, RedisServer() as redis_server:
        say(f"  redis-server   {redis_server.url}")
        with EmulatorProcess("--rate-limit", f"50/{RATE_WINDOW}") as emulator:
            say(f"  X emulator     {emulator.url}")
            return _run(redis_server, emulator.admin, emulator.url, workdir)


def _run(redis_server: RedisServer, admin: EmulatorAdmin, x_url: str, workdir: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTQ_")}
    env.update({
        "RTQ_REDIS_URL": redis_server.url,
        "RTQ_X_API_URL": x_url,
        "RTQ_SECRET_KEY": Fernet.generate_key().decode(),
        "RTQ_RETRY_BACKOFF": "0.5",
        "RTQ_RETRY_BACKOFF_MAX": "2",
    })
    settings = Settings.from_env(env)
    client = redis_server.client()
    keys = Keys(settings.key_prefix)
    store = AccountStore(client, keys, fernet_for(settings.secret_keys))
    names = ("alice", "bob", "carol")
    accounts: dict[str, str] = {}
    for name in names:
        creds = admin.new_account()
        accounts[name] = store.add(Credentials(
            access_token=creds["access_token"], access_token_secret=creds["access_token_secret"],
            consumer_key=creds["consumer_key"], consumer_secret=creds["consumer_secret"],
        ))
        say(f"  account {name:<6} {accounts[name]} (credentials encrypted in Redis)")
    alice, bob, carol = (accounts[n] for n in names)
    admin.configure(user_rate_limits={bob: LIMITED_CALLS}, missing_tweets=["404404"])
    admin.script([{"user_id": carol, "tweet_id": "1003", "responses": [{"status": 503}]}])

    log_path = os.path.join(workdir, "worker.log")
    say("  starting a worker ...")
    with WorkerProcess(env, log_path=log_path, extra_args=("--concurrency", "2")):
        producer = Producer(client, settings)
        jobs = JobStore(client, keys)
        first = [
            Planned("retweet", "retweet", alice, "1001"),
            Planned("undo (never retweeted: X says ok)", "undo", alice, "1002"),
            Planned("503 once, retried", "retweet", carol, "1003"),
            Planned("deleted tweet -> dead letter", "retweet", carol, "404404"),
            *[Planned(f"rate-limited account #{i}", "retweet", bob, str(2000 + i))
              for i in range(1, 5)],
        ]
        planned = list(first)
        ids = [producer.enqueue(p.action, p.account, p.tweet) for p in first]
        say(f"\nenqueued {len(ids)} jobs; waiting for them ...")
        if not _wait(jobs, ids, DEADLINE):
            return _give_up(log_path)
        say("enqueueing the first retweet twice more: rtq knows it is done, so no call ...")
        for _ in range(2):
            planned.append(Planned("same retweet again (dedup)", "retweet", alice, "1001"))
            ids.append(producer.enqueue("retweet", alice, "1001"))
            if not _wait(jobs, ids, 15):
                return _give_up(log_path)
        statuses = [s for s in jobs.get_many(ids) if s is not None]
        _table(planned, statuses, {v: k for k, v in accounts.items()})
        calls = [c for c in admin.calls() if c["action"] in ("retweet", "undo")]
        by_status = Counter(str(c["status"]) for c in calls)
        dead = DeadLetters(client, keys).list()
        say(f"\nbob may make {LIMITED_CALLS} calls per {RATE_WINDOW}s: rtq learned that from X's "
            "headers, so his other jobs waited for the next window instead of being refused.")
        say(f"X received {len(calls)} calls: "
            + ", ".join(f"{n} x HTTP {s}" for s, n in sorted(by_status.items())))
        say(f"dead-letter queue: {len(dead)} entr{'y' if len(dead) == 1 else 'ies'} "
            + ", ".join(f"{d.reason} ({d.detail})" for d in dead))
        say("\nstopping the worker, the emulator and redis-server ...")
    say("done.")
    return 0


def _wait(jobs: JobStore, ids: list[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        states = Counter(s.state if s else "missing" for s in jobs.get_many(ids))
        line = "  " + ", ".join(f"{state}: {n}" for state, n in sorted(states.items()))
        if line != last:
            say(line)
            last = line
        if all(state in TERMINAL_STATES for state in states):
            return True
        time.sleep(0.2)
    return False


def _table(planned: list[Planned], statuses: list[JobStatus], names: dict[str, str]) -> None:
    rows = [("WHAT", "ACCOUNT", "ACTION", "TWEET", "STATE", "CALLS", "TOOK", "REASON")]
    for plan, status in zip(planned, statuses, strict=True):
        rows.append((plan.label, names[plan.account], status.action, status.tweet_id or "",
                     status.state, str(status.attempts), _took(status), status.reason or ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    click.echo("")
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                   .rstrip())


def _took(status: JobStatus) -> str:
    if not status.created_at or not status.updated_at:
        return "-"
    started = datetime.fromisoformat(status.created_at)
    ended = datetime.fromisoformat(status.updated_at)
    return f"{(ended - started).total_seconds():.1f}s"


def _give_up(log_path: str) -> int:
    click.echo("the demo did not finish in time; the worker's log ends with:", err=True)
    with open(log_path, errors="replace") as log_file:
        sys.stderr.write(log_file.read()[-3000:])
    return 1
