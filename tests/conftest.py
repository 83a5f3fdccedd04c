"""The real parts every end-to-end test stands on: a private redis-server on a free port, the
X emulator over real HTTP, and real Celery worker processes.

Session-scoped processes keep the suite fast; each test gets clean rtq keys, a reset emulator
and fresh accounts, so tests never see each other's jobs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import redis
from cryptography.fernet import Fernet

from fake_x import EmulatorAdmin, EmulatorProcess
from producers import Producer
from tests.support import TEST_ENV, Deployment, Rtq
from worker.core.keys import QUEUE, Keys
from worker.core.settings import Settings
from worker.domain.accounts import AccountStore, fernet_for
from worker.domain.dlq import DeadLetters
from worker.domain.jobs import JobStore
from worker.domain.lanes import all_lanes, queue_depth
from worker.embedded.servers import RedisServer, WorkerProcess


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    with EmulatorProcess() as process:
        yield process


@pytest.fixture(scope="session")
def secret_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture(scope="session")
def rtq_env(redis_server: RedisServer, emulator: EmulatorProcess, secret_key: str
            ) -> dict[str, str]:
    """The environment a user would set, pointing at the private Redis and the emulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RTQ_", "SENTRY_"))}
    env.update(TEST_ENV)
    env.update({
        "RTQ_REDIS_URL": redis_server.url,
        "RTQ_X_API_URL": emulator.url,
        "RTQ_SECRET_KEY": secret_key,
    })
    return env


@pytest.fixture(scope="session")
def settings(rtq_env: Mapping[str, str]) -> Settings:
    return Settings.from_env(rtq_env)


@pytest.fixture(scope="session")
def redis_client(redis_server: RedisServer) -> redis.Redis:
    return redis_server.client()


@pytest.fixture(scope="session")
def worker(rtq_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[WorkerProcess]:
    """One real worker (prefork, 2 processes) shared by the tests that only need one."""
    log = str(tmp_path_factory.mktemp("worker") / "worker.log")
    process = WorkerProcess(rtq_env, log_path=log, extra_args=("--concurrency", "2"))
    process.start()
    yield process
    process.stop()


@pytest.fixture
def admin(emulator: EmulatorProcess) -> EmulatorAdmin:
    return emulator.admin


@pytest.fixture(autouse=True)
def _isolate(request: pytest.FixtureRequest) -> Iterator[None]:
    """Clean rtq's keys and the emulator's world around each test that uses them."""
    uses = set(request.fixturenames)
    if "redis_client" in uses or "rtq" in uses:
        client: redis.Redis = request.getfixturevalue("redis_client")
        _delete_rtq_keys(client)
    if "admin" in uses or "rtq" in uses:
        request.getfixturevalue("admin").reset()
    yield


def _delete_rtq_keys(client: redis.Redis) -> None:
    # Let work still in flight from the previous test finish first (a message a worker holds
    # is in kombu's "unacked" hash); otherwise it lands in this test's clean slate.
    deadline = time.monotonic() + 10
    while ((queue_depth(client, QUEUE) or client.hlen("unacked"))
           and time.monotonic() < deadline):
        time.sleep(0.02)
    keys = list(client.scan_iter("rtq:*", count=1000))
    if keys:
        client.delete(*keys)
    client.delete(*all_lanes(QUEUE))


@pytest.fixture
def rtq(settings: Settings, rtq_env: dict[str, str], redis_client: redis.Redis,
        admin: EmulatorAdmin) -> Rtq:
    keys = Keys(settings.key_prefix)
    return Rtq(
        settings=settings, env=rtq_env, redis=redis_client, admin=admin,
        producer=Producer(redis_client, settings), jobs=JobStore(redis_client, keys),
        dead_letters=DeadLetters(redis_client, keys),
        accounts=AccountStore(redis_client, keys, fernet_for(settings.secret_keys)),
    )




@pytest.fixture
def deployment(rtq_env: dict[str, str], admin: EmulatorAdmin, tmp_path: Path
               ) -> Iterator[Deployment]:
    """A private deployment (own redis-server, workers started by the test)."""
    made = Deployment(rtq_env, admin, str(tmp_path))
    yield made
    made.close()


@pytest.fixture
def aof_deployment(rtq_env: dict[str, str], admin: EmulatorAdmin, tmp_path: Path
                   ) -> Iterator[Deployment]:
    """The same with an AOF-persisted Redis, for restart tests."""
    made = Deployment(rtq_env, admin, str(tmp_path), appendonly=True)
    yield made
    made.close()
