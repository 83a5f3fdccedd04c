"""Helpers the end-to-end tests share: waiting on conditions, and `Rtq`, the test's view of rtq."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from fake_x import EmulatorAdmin
from producers import Producer
from worker.core.keys import QUEUE, Keys
from worker.core.settings import Settings
from worker.domain.accounts import AccountStore, fernet_for
from worker.domain.dlq import DeadLetters
from worker.domain.jobs import JobStatus, JobStore
from worker.x_api.credentials import Credentials

# Worker settings that keep failure paths quick in tests.
TEST_ENV = {
    "RTQ_RETRY_BACKOFF": "0.05",
    "RTQ_RETRY_BACKOFF_MAX": "0.2",
    "RTQ_MAX_ATTEMPTS": "3",
    "RTQ_HTTP_READ_TIMEOUT": "1.5",
    "RTQ_HTTP_CONNECT_TIMEOUT": "1",
    # Tests that fail calls on purpose must not open the shared circuit breaker for the tests
    # after them; the breaker's own tests lower this in a deployment of their own.
    "RTQ_BREAKER_MIN_CALLS": "100000",
}


def wait_for(predicate: Callable[[], Any], timeout: float = 20, what: str = "condition",
             interval: float = 0.02) -> Any:
    """Poll until `predicate()` is truthy and return it; fail the test naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Account:
    account_id: str
    credentials: dict[str, str]


@dataclass
class Rtq:
    """The test's view of rtq: the same objects the CLI and workers use, plus helpers."""

    settings: Settings
    env: dict[str, str]
    redis: redis.Redis
    admin: EmulatorAdmin
    producer: Producer
    jobs: JobStore
    dead_letters: DeadLetters
    accounts: AccountStore

    def add_account(self, **overrides: Any) -> Account:
        """A new user registered with the emulator and added to rtq."""
        creds = self.admin.new_account()
        document = {k: creds[k] for k in
                    ("access_token", "access_token_secret", "consumer_key", "consumer_secret")}
        document.update(overrides)
        account_id = self.accounts.add(Credentials(**document))
        return Account(account_id, document)

    def status(self, job_id: str) -> JobStatus:
        status = self.jobs.get(job_id)
        assert status is not None, f"no status record for {job_id}"
        return status

    def wait_terminal(self, *job_ids: str, timeout: float = 20) -> list[JobStatus]:
        def all_done() -> list[JobStatus] | None:
            statuses = self.jobs.get_many(list(job_ids))
            if all(s is not None and s.terminal for s in statuses):
                return [s for s in statuses if s is not None]
            return None

        result: list[JobStatus] = wait_for(all_done, timeout, f"jobs {job_ids} to finish")
        return result

    def wait_state(self, job_id: str, state: str, timeout: float = 20) -> JobStatus:
        found: JobStatus = wait_for(
            lambda: (s := self.jobs.get(job_id)) is not None and s.state == state and s,
            timeout, f"job {job_id} to be {state}",
        )
        return found

    def cli(self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        """Run the real `rtq` console script."""
        rtq_bin = os.path.join(os.path.dirname(sys.executable), "rtq")
        return subprocess.run(
            [rtq_bin, *args], check=False, input=input, capture_output=True, text=True, timeout=60,
            env=dict(env if env is not None else self.env),
        )

    def send_task(self, name: str, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None,
                  task_id: str | None = None, expires: Any = None) -> str:
        """Publish like any Celery client that does not import our code (`expires`: Celery's
        own option, a datetime or seconds)."""
        from celery import Celery

        app = Celery("foreign", broker=self.settings.redis_url)
        app.conf.task_serializer = "json"
        try:
            result = app.send_task(name, args=args, kwargs=kwargs or {}, queue=QUEUE,
                                   task_id=task_id, expires=expires)
        finally:
            app.close()
        return str(result.id)

    def x_calls(self, account_id: str | None = None) -> list[dict[str, Any]]:
        filters = {"user_id": account_id} if account_id else {}
        return [c for c in self.admin.calls(**filters) if c["action"] in ("retweet", "undo")]


def dump_redis(client: redis.Redis) -> str:
    """Every key and value in Redis as text, for secret scans."""
    parts = []
    for key in client.scan_iter("*", count=1000):
        kind = client.type(key)
        if kind == "string":
            value: Any = client.get(key)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "set":
            value = sorted(client.smembers(key))
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        else:
            value = kind
        parts.append(f"{key} {json.dumps(value, default=str)}")
    return "\n".join(parts)


def signed_session(base_url: str, credentials: Mapping[str, str]) -> Any:
    """A requests session signing as the account: a client of X outside rtq."""
    import requests
    from requests_oauthlib import OAuth1

    session = requests.Session()
    session.auth = OAuth1(credentials["consumer_key"], credentials["consumer_secret"],
                          credentials["access_token"], credentials["access_token_secret"])
    return session


class Deployment:
    """A private rtq deployment for crash tests: its own redis-server (optionally with AOF) and
    as many worker processes as a test starts, against the shared emulator."""

    def __init__(self, base_env: Mapping[str, str], admin: EmulatorAdmin, log_dir: str,
                 *, appendonly: bool = False, **env: str) -> None:
        from worker.embedded.servers import RedisServer

        # Validate the settings before starting anything, so a bad one leaks no process.
        Settings.from_env({**base_env, **env})
        self.redis_server = RedisServer(appendonly=appendonly).start()
        self.env = {**base_env, "RTQ_REDIS_URL": self.redis_server.url, **env}
        self.settings = Settings.from_env(self.env)
        self.admin = admin
        self.log_dir = log_dir
        self.workers: list[Any] = []
        self.redis = self.redis_server.client()
        self.rtq = Rtq(
            settings=self.settings, env=self.env, redis=self.redis, admin=admin,
            producer=Producer(self.redis, self.settings),
            jobs=JobStore(self.redis, Keys(self.settings.key_prefix)),
            dead_letters=DeadLetters(self.redis, Keys(self.settings.key_prefix)),
            accounts=AccountStore(self.redis, Keys(self.settings.key_prefix),
                                  fernet_for(self.settings.secret_keys)),
        )

    def start_worker(self, concurrency: int = 1, *extra: str) -> Any:
        from worker.embedded.servers import WorkerProcess

        name = f"w{len(self.workers)}"
        worker = WorkerProcess(self.env, log_path=os.path.join(self.log_dir, f"{name}.log"),
                               name=name, extra_args=("--concurrency", str(concurrency), *extra))
        worker.start()
        self.workers.append(worker)
        return worker

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        self.redis.close()
        self.redis_server.close()


def pool_children(pid: int) -> list[int]:
    """The pool processes of a worker's main process."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]


def serve(command: str, env: Mapping[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """`rtq COMMAND --port N` (api or web) started for real on a free port, once its
    /healthz answers; returns the process and its URL."""
    import requests

    from worker.embedded.servers import free_port

    port = free_port()
    process = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "rtq"), command, "--port", str(port)],
        env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{url}/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            assert process.poll() is None, f"rtq {command} exited"
            return False

    wait_for(up, 20, f"rtq {command} to answer")
    return process, url


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=10)
    assert process.stderr is not None
    process.stderr.close()

