"""The bench's stage: a private redis-server, the X emulator, accounts, worker processes, and
the instruments (queue drain rate, CPU and memory of processes, Redis command counts).

Nothing here touches the machine's shared Redis: `RedisServer` picks a free port on 127.0.0.1.
Workers are real `rtq worker` (or plain Celery) processes, started the way operators start them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from cryptography.fernet import Fernet

from fake_x import EmulatorProcess
from producers import JobRequest, Producer
from worker.core.keys import Keys
from worker.core.settings import Settings
from worker.domain.accounts import AccountStore, fernet_for
from worker.domain.lanes import all_lanes
from worker.domain.messages import new_job_id
from worker.embedded.servers import RedisServer
from worker.x_api.credentials import Credentials

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PLAIN_QUEUE = "plain"
PLAIN_TASK = "plain.retweet"
UNACKED = "unacked"  # kombu's hash of delivered, unacked messages (no global_keyprefix)
# High enough that neither the emulator nor rtq's scheduler limits the throughput scenarios.
UNLIMITED_EMULATOR = "1000000/900"
UNLIMITED_RTQ = "999999/900"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# -- processes ------------------------------------------------------------------------------

def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (pool children, their children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                text = (task / "children").read_text()
                todo.extend(int(p) for p in text.split())
        except OSError:
            continue
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU time of these processes (so far), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; PSS splits pages shared by forked pool children."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        with contextlib.suppress(OSError):
            rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
            pss = rss
    return rss, pss


class Worker:
    """A Celery worker process (rtq's or the plain baseline), logging to a file."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], log_path: Path,
                 name: str, root: Path = ROOT) -> None:
        self.argv, self.env, self.log_path, self.name = list(argv), env, log_path, name
        self.root = root  # the source tree the worker runs (its cwd comes first on sys.path)
        self.process: subprocess.Popen[bytes] | None = None

    def spawn(self) -> Worker:
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(self.argv, env=self.env, stdout=log_file,
                                            stderr=subprocess.STDOUT, start_new_session=True,
                                            cwd=self.root)
        return self

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"worker {self.name} exited early:\n{self.log()[-3000:]}")
        return " ready." in self.log()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def pids(self) -> list[int]:
        return descendants(self.pid)

    def stop(self, timeout: float = 20) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@dataclass(frozen=True)
class Setup:
    """How workers run: `instances` worker processes, each with this pool and concurrency."""

    pool: str
    concurrency: int
    instances: int = 1

    @property
    def label(self) -> str:
        prefix = f"{self.instances}x " if self.instances > 1 else ""
        return f"{prefix}{self.pool} {self.concurrency}"

    def celery_args(self) -> list[str]:
        return ["--pool", self.pool, "--concurrency", str(self.concurrency)]


class WorkerGroup:
    """The worker processes of one measurement, started together, stopped together."""

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers

    def start(self, timeout: float = 90) -> WorkerGroup:
        for worker in self.workers:
            worker.spawn()
        deadline = time.monotonic() + timeout
        pending = list(self.workers)
        try:
            while pending:
                pending = [w for w in pending if not w.ready()]
                if pending and time.monotonic() > deadline:
                    raise RuntimeError(f"workers not ready after {timeout}s: "
                                       f"{[w.name for w in pending]}")
                time.sleep(0.05)
        except BaseException:
            self.kill()
            raise
        return self

    def pids(self) -> list[int]:
        return [pid for worker in self.workers for pid in worker.pids()]

    def memory(self) -> dict[str, int]:
        """RSS and PSS (KiB) summed over every process of the group, and the process count."""
        rss = pss = 0
        pids = self.pids()
        for pid in pids:
            r, p = memory_kb(pid)
            rss += r
            pss += p
        return {"rss_kb": rss, "pss_kb": pss, "processes": len(pids)}

    def stop(self) -> None:
        for worker in self.workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers:
            worker.stop()

    def kill(self) -> None:
        for worker in self.workers:
            worker.kill()

    def __enter__(self) -> WorkerGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


# -- the stage ------------------------------------------------------------------------------

@dataclass
class Account:
    account_id: str
    credentials: dict[str, str]


@dataclass
class Stack:
    """A private redis-server and emulator for the whole run, reset between measurements."""

    workdir: Path
    account_count: int = 24
    redis_server: RedisServer | None = None
    emulator: EmulatorProcess | None = None
    accounts: list[Account] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    settings: Settings | None = None
    client: Any = None
    _tweet: int = 10**15
    _workers_started: int = 0

    def start(self) -> Stack:
        (self.workdir / "redis").mkdir()
        self.redis_server = RedisServer(directory=str(self.workdir / "redis")).start()
        self.emulator = EmulatorProcess("--rate-limit", UNLIMITED_EMULATOR).start()
        admin = self.emulator.admin
        for _ in range(self.account_count):
            creds = admin.new_account()
            document = {k: creds[k] for k in ("access_token", "access_token_secret",
                                              "consumer_key", "consumer_secret")}
            self.accounts.append(Account(str(creds["user_id"]), document))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RTQ_", "SENTRY_"))}
        env.update({
            "RTQ_REDIS_URL": self.redis_server.url,
            "RTQ_X_API_URL": self.emulator.url,
            "RTQ_SECRET_KEY": Fernet.generate_key().decode(),
            "RTQ_RATE_LIMIT": UNLIMITED_RTQ,
            "PYTHONPATH": str(ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        accounts_file = self.workdir / "plain-accounts.json"
        accounts_file.write_text(json.dumps({a.account_id: a.credentials for a in self.accounts}))
        env.update({"BENCH_REDIS_URL": self.redis_server.url, "BENCH_X_API_URL": self.emulator.url,
                    "BENCH_ACCOUNTS_FILE": str(accounts_file)})
        self.env = env
        self.settings = Settings.from_env(env)
        self.client = redis.Redis(port=self.redis_server.port, decode_responses=True,
                                  socket_timeout=60)
        self.reset()
        return self

    @property
    def admin(self) -> Any:
        assert self.emulator is not None
        return self.emulator.admin

    @property
    def account_ids(self) -> list[str]:
        return [a.account_id for a in self.accounts]

    def store(self) -> AccountStore:
        assert self.settings is not None
        return AccountStore(self.client, Keys(self.settings.key_prefix),
                            fernet_for(self.settings.secret_keys),
                            queue_key=self.settings.queue_key)

    def producer(self) -> Producer:
        assert self.settings is not None
        return Producer(self.client, self.settings)

    def reset(self, **emulator_config: Any) -> None:
        """Empty Redis (accounts added again), a fresh emulator world with this config."""
        self.client.flushall()
        store = self.store()
        for account in self.accounts:
            store.add(Credentials(**account.credentials))
        self.admin.reset()
        if emulator_config:
            self.admin.configure(**emulator_config)
        self.client.config_resetstat()

    def tweets(self, count: int) -> list[str]:
        """Tweet ids never used before in this run (no dedup, no supersede between jobs)."""
        start = self._tweet
        self._tweet += count
        return [str(t) for t in range(start, start + count)]

    def requests(self, count: int, accounts: Sequence[str] | None = None,
                 action: str = "retweet") -> list[JobRequest]:
        """`count` jobs round-robin over `accounts` (all of the first 20 by default)."""
        ids = list(accounts or self.account_ids[:20])
        return [JobRequest(action, ids[i % len(ids)], tweet)
                for i, tweet in enumerate(self.tweets(count))]

    def enqueue_rtq(self, requests: list[JobRequest]) -> list[str]:
        return self.producer().enqueue_many(requests)

    def enqueue_plain(self, requests: list[JobRequest]) -> None:
        """The same messages plain Celery's send_task writes, for the baseline's queue."""
        pipe = self.client.pipeline(transaction=False)
        for index, request in enumerate(requests, start=1):
            pipe.lpush(PLAIN_QUEUE, plain_message(request.account_id, request.tweet_id))
            if index % 1000 == 0:
                pipe.execute()
        pipe.execute()

    def workers(self, setup: Setup, *, plain: bool = False, name: str = "w",
                env: dict[str, str] | None = None, root: Path | None = None) -> WorkerGroup:
        """Worker processes for `setup` (not started); `env` overrides variables; `root` is
        another copy of the source tree to run (bench/whatif.py's patched variants)."""
        group = []
        for _ in range(setup.instances):
            self._workers_started += 1
            label = f"{'plain' if plain else 'rtq'}-{name}{self._workers_started}"
            argv = plain_argv(label) if plain else rtq_argv(label)
            group.append(Worker([*argv, *setup.celery_args()], {**self.env, **(env or {})},
                                self.workdir / f"{label}.log", label, root or ROOT))
        return WorkerGroup(group)

    def pid_of(self, what: str) -> int:
        if what == "emulator":
            assert self.emulator is not None
            return self.emulator.pid
        assert self.redis_server is not None and self.redis_server.process is not None
        return self.redis_server.process.pid

    def close(self) -> None:
        if self.emulator is not None:
            self.emulator.stop()
        if self.redis_server is not None:
            self.redis_server.close()


@contextlib.contextmanager
def stack(account_count: int = 24) -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="rtq-bench-") as workdir:
        current = Stack(Path(workdir), account_count)
        try:
            yield current.start()
        finally:
            current.close()


def rtq_argv(name: str) -> list[str]:
    """`rtq worker` exactly as operators run it (it adds -Q rtq -O fair
    --prefetch-multiplier 1 -E)."""
    return [PYTHON, "-m", "worker.cli", "worker", "--hostname", f"{name}@%h",
            "--loglevel", "INFO"]


def plain_argv(name: str) -> list[str]:
    """The baseline: the same worker options as `rtq worker`, on bench/baseline.py's app."""
    return [PYTHON, "-m", "celery", "-A", "bench.baseline", "worker", "-Q", PLAIN_QUEUE,
            "-O", "fair", "--prefetch-multiplier", "1", "-E", "--hostname", f"{name}@%h",
            "--loglevel", "INFO"]


def plain_message(account_id: str, tweet_id: str) -> str:
    """The protocol-2 message `send_task` writes for the baseline task, as kombu's Redis
    transport stores it (rtq's own messages are leaner: worker/domain/messages.py)."""
    job_id = new_job_id()
    kwargs = {"account_id": account_id, "tweet_id": tweet_id}
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    body = json.dumps([[], kwargs, embed], separators=(",", ":")).encode()
    message = {
        "body": base64.b64encode(body).decode("ascii"),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py", "task": PLAIN_TASK, "id": job_id, "shadow": None, "eta": None,
            "expires": None, "group": None, "group_index": None, "retries": 0,
            "timelimit": [None, None], "root_id": job_id, "parent_id": None, "argsrepr": "()",
            "kwargsrepr": repr(kwargs), "origin": f"gen{os.getpid()}@{socket.gethostname()}",
            "ignore_result": True, "replaced_task_nesting": 0, "stamped_headers": None,
            "stamps": {},
        },
        "properties": {
            "correlation_id": job_id, "reply_to": "", "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": PLAIN_QUEUE}, "priority": 0,
            "body_encoding": "base64", "delivery_tag": str(uuid.uuid4()),
        },
    }
    return json.dumps(message, separators=(",", ":"))


# -- instruments ----------------------------------------------------------------------------

def commandstats(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def command_delta(before: dict[str, int], after: dict[str, int],
                  own: dict[str, int] | None = None) -> dict[str, int]:
    """Calls per command between two snapshots, minus the bench's own (`own`, and INFO)."""
    own = own or {}
    delta = {}
    for name, calls in after.items():
        count = calls - before.get(name, 0) - own.get(name, 0)
        if name != "info" and count > 0:
            delta[name] = count
    return delta


def reads_processed(client: redis.Redis) -> int:
    """Client requests Redis has read so far (INFO stats): about one per round trip."""
    return int(client.info("stats")["total_reads_processed"])


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


@dataclass
class Drain:
    """What a backlog drain measured: steady-state rate and CPU cost per job."""

    label: str
    jobs: int  # jobs completed in the measured window
    seconds: float
    rate: float
    worker_cpu_ms_per_job: float
    emulator_load: float  # emulator CPU in the window, as a share of one core
    redis_load: float
    total_jobs: int
    drained: bool
    wall_s: float
    polls: int = 0
    memory: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def drain(stack: Stack, group: WorkerGroup, queue: str, total: int, label: str, *,
          warmup: float = 1.0, window: float | None = None, timeout: float = 600,
          interval: float = 0.02) -> Drain:
    """Start `group` on a preloaded backlog of `total` jobs and measure how fast it completes
    jobs (acked: gone from both the queue and kombu's unacked hash).

    The window opens `warmup` seconds after the first job leaves the queue and closes after
    `window` seconds or when the backlog is done; rate = jobs completed inside it / its length.
    """
    client = stack.client
    emulator_pid, redis_pid = stack.pid_of("emulator"), stack.pid_of("redis")
    polls = 0

    def remaining() -> int:
        nonlocal polls
        polls += 1
        pipe = client.pipeline(transaction=False)
        for lane in all_lanes(queue):
            pipe.llen(lane)
        pipe.hlen(UNACKED)
        return sum(int(n) for n in pipe.execute())

    started = time.monotonic()
    group.start()
    first = None
    opened: tuple[float, int, float, float, float] | None = None
    closed: tuple[float, int, float, float, float] | None = None
    memory: dict[str, int] = {}
    left = total
    while True:
        now = time.monotonic()
        left = remaining()
        if first is None and left < total:
            first = now
        if first is not None and opened is None and (now >= first + warmup or left == 0):
            opened = (now, left, cpu_seconds(group.pids()), cpu_seconds([emulator_pid]),
                      cpu_seconds([redis_pid]))
        if opened is not None and (left == 0 or (window is not None
                                                 and now >= opened[0] + window)):
            memory = group.memory()
            closed = (time.monotonic(), left, cpu_seconds(group.pids()),
                      cpu_seconds([emulator_pid]), cpu_seconds([redis_pid]))
            break
        if now - started > timeout:
            raise RuntimeError(f"{label}: backlog not done after {timeout}s ({left} left)")
        time.sleep(interval)
    assert opened is not None and first is not None
    jobs = opened[1] - closed[1]
    seconds = closed[0] - opened[0]
    if jobs <= 0 or seconds <= 0.2:
        # The backlog was too small to open a window after warm-up: use the whole drain.
        jobs, seconds = total, max(closed[0] - first, 1e-6)
    return Drain(
        label=label, jobs=jobs, seconds=seconds, rate=jobs / seconds,
        worker_cpu_ms_per_job=(closed[2] - opened[2]) * 1000 / max(jobs, 1),
        emulator_load=(closed[3] - opened[3]) / seconds,
        redis_load=(closed[4] - opened[4]) / seconds,
        total_jobs=total, drained=left == 0, wall_s=time.monotonic() - started, polls=polls,
        memory=memory,
    )


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (share in 0..1)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-share * len(ordered) // 1))))
    return ordered[rank - 1]
