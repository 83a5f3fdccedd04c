"""What every command shares: settings and clients built once, errors printed on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import cached_property, wraps
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click
import redis

from producers.errors import EnqueueError, InvalidJob
from producers.producer import Producer
from worker.core.errors import RtqError, SettingsError
from worker.core.keys import Keys
from worker.core.redis_client import connect, redact_url
from worker.core.settings import Settings
from worker.domain.accounts import (
    AccountStore,
    CredentialsUnreadable,
    default_app_id,
    fernet_for,
)
from worker.domain.dlq import DeadLetters
from worker.domain.jobs import JobStore
from worker.x_api.credentials import InvalidCredentials

if TYPE_CHECKING:
    from worker.domain.holds import Holds

P = ParamSpec("P")
R = TypeVar("R")


class Context:
    """Lazily built settings and clients: `rtq keygen` never reads RTQ_REDIS_URL."""

    @cached_property
    def settings(self) -> Settings:
        return Settings.from_env()

    @cached_property
    def redis(self) -> redis.Redis:
        return connect(self.settings.redis_url)

    @cached_property
    def keys(self) -> Keys:
        return Keys(self.settings.key_prefix)

    def accounts(self, *, need_key: bool = False) -> AccountStore:
        fernet = None
        if need_key or self.settings.secret_keys:
            fernet = fernet_for(self.settings.require_secret_keys())
        return AccountStore(self.redis, self.keys, fernet, queue_key=self.settings.queue_key)

    @cached_property
    def producer(self) -> Producer:
        return Producer(self.redis, self.settings)

    @cached_property
    def jobs(self) -> JobStore:
        return JobStore(self.redis, self.keys)

    @cached_property
    def holds(self) -> Holds:
        from worker.domain.holds import Holds  # only the commands that read holds load it

        return Holds(self.redis, self.keys, self.settings.queue_key)

    @cached_property
    def default_app(self) -> str:
        """The app id of accounts without keys of their own (RTQ_CONSUMER_KEY's)."""
        return default_app_id(self.settings.consumer_key)

    @cached_property
    def actor(self) -> str:
        """Who acts, as the audit trail names the CLI's operator: cli:<user>."""
        return f"cli:{os_user()}"

    def audit(self, action: str, target: str, jobs: int | None = None, **details: Any) -> None:
        """Record one operator action of this command (worker/ops/audit.py), as cli:<user>."""
        from worker.core.observability import setup_audit_log
        from worker.ops.audit import record

        setup_audit_log(self.settings)
        record(self.redis, self.keys, action, actor=self.actor, target=target,
               jobs=jobs, **details)

    @cached_property
    def dead_letters(self) -> DeadLetters:
        return DeadLetters(self.redis, self.keys, max_entries=self.settings.dlq_max,
                           ttl=self.settings.dlq_ttl)


def os_user() -> str:
    """Who runs this command: the login name, or the uid when it has none."""
    import getpass
    import os

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


pass_context = click.make_pass_decorator(Context, ensure=True)


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn rtq's own errors into one clear line on stderr and a non-zero exit."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (SettingsError, InvalidJob, InvalidCredentials, CredentialsUnreadable,
                EnqueueError, RtqError) as exc:
            fail(str(exc))
        except redis.RedisError as exc:
            url = "Redis"
            with suppress(SettingsError):
                url = f"Redis at {redact_url(Settings.from_env().redis_url)}"
            fail(f"{url} is unreachable or refused the command: {type(exc).__name__}")
        raise AssertionError("unreachable")

    return wrapper


def emit_json(document: dict[str, Any]) -> None:
    click.echo(json.dumps(document, separators=(",", ":"), default=str))


def print_table(rows: list[list[str]], headers: list[str]) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    for row in [headers, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@contextmanager
def progress(total: int, label: str, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr for long work, only when stderr is a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield lambda _n: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update
