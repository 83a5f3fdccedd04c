"""The `rtq` command line. Every command calls the same functions the Python API does.

Subcommands load lazily (click's LazyGroup pattern): `rtq enqueue FILE` imports the module of
`enqueue` and what it needs, not Celery, kombu or aiohttp, which the other commands pull in and
which took most of the command's start-up. `rtq --help` still lists every command with its short
help: Click needs the command objects for that, so it imports them all.

    common.py     the shared context (settings, Redis, stores), error handling, tables, JSON
    jobs.py       retweet, undo, enqueue (bulk files), status
    accounts.py   accounts add/list/limit/release/remove/rotate-keys;  authorize.py: OAuth 2.0
                  (PKCE)
    apps.py       apps list/release: the X apps X refuses as a whole
    dlq.py        dead letters: list, show, replay, purge, export
    audit.py      the audit trail of operator actions (`rtq audit`)
    ops.py        stats, metrics, flower
    pause.py      pause and resume (everything, an account, a tweet)
    cancel.py     cancel pending jobs (by id, an account's, a tweet's, one pair's)
    find.py       finding jobs: jobs (an account's, paged and filtered), pair (one account
                  and tweet)
    api.py        the HTTP producer (`rtq api`)
    web.py        the web console (`rtq web`)
"""

from __future__ import annotations

import importlib
import os
import sys

import click
from cryptography.fernet import Fernet

from worker.cli.common import handle_errors
from worker.core.settings import Settings

# name -> "module:attribute" of the command; imported only when the command is looked up.
LAZY_COMMANDS: dict[str, str] = {
    "accounts": "worker.cli.accounts:accounts_group",
    "api": "worker.cli.api:api_command",
    "apps": "worker.cli.apps:apps_group",
    "audit": "worker.cli.audit:audit_command",
    "cancel": "worker.cli.cancel:cancel",
    "dlq": "worker.cli.dlq:dlq_group",
    "enqueue": "worker.cli.jobs:enqueue",
    "fake-x": "fake_x.cli:fake_x_command",
    "flower": "worker.cli.ops:flower",
    "jobs": "worker.cli.find:jobs",
    "metrics": "worker.cli.ops:metrics",
    "pair": "worker.cli.find:pair",
    "pause": "worker.cli.pause:pause",
    "resume": "worker.cli.pause:resume",
    "retweet": "worker.cli.jobs:retweet",
    "stats": "worker.cli.ops:stats",
    "status": "worker.cli.jobs:status",
    "undo": "worker.cli.jobs:undo",
    "web": "worker.cli.web:web_command",
}


class LazyGroup(click.Group):
    """A group whose subcommands (`lazy_subcommands`: name -> "module:attribute") are imported
    on first lookup, as in click's documentation ("Lazily Loading Subcommands")."""

    def __init__(self, *args: object, lazy_subcommands: dict[str, str] | None = None,
                 **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands and cmd_name not in self.commands:
            self.add_command(self._load(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, cmd_name: str) -> click.Command:
        module_name, attribute = self.lazy_subcommands[cmd_name].split(":", 1)
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}:{attribute} is not a click command")
        return command


@click.group(cls=LazyGroup, lazy_subcommands=LAZY_COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="retweet-queue", prog_name="rtq")
def cli() -> None:
    """rtq: retweet and undo retweets on X for many accounts, through Celery on Redis."""


@cli.command("keygen")
def keygen() -> None:
    """Print a new Fernet key for RTQ_SECRET_KEY."""
    click.echo(Fernet.generate_key().decode("ascii"))


WORKER_DEFAULTS = ("-O", "fair", "--prefetch-multiplier", "1", "-E")


@cli.command("worker", context_settings={"ignore_unknown_options": True,
                                         "allow_extra_args": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@handle_errors
def worker_command(celery_args: tuple[str, ...]) -> None:
    """Start a worker: `celery -A worker worker -Q rtq -O fair --prefetch-multiplier 1 -E`
    (the queue is RTQ_QUEUE)
    plus any extra Celery worker options given here."""
    # Imported here: worker.celery_adapter.broker imports kombu, which no other command needs.
    from worker.celery_adapter import broker

    settings = Settings.from_env()
    settings.require_secret_keys()
    broker.broker_url(settings)  # a URL workers cannot use (unix://) fails here, in one line
    argv = [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", settings.queue,
            *WORKER_DEFAULTS, *celery_args]
    sys.stdout.flush()
    os.execv(sys.executable, argv)


@cli.command("demo")
def demo() -> None:
    """Run the main job end to end on an embedded default: a private redis-server, the X
    emulator and a worker; no configuration, no internet."""
    from worker.embedded.demo import run_demo

    sys.exit(run_demo())


def main() -> None:
    cli(prog_name="rtq")
