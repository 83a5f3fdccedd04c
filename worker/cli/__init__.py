"""The `rtq` command line. Every command calls the same functions the Python API does."""

from __future__ import annotations

import os
import sys

import click
from cryptography.fernet import Fernet

from worker import broker
from worker.cli.accounts import accounts_group
from worker.cli.api import api_command
from worker.cli.common import handle_errors
from worker.cli.dlq import dlq_group
from worker.cli.jobs import enqueue, retweet, status, undo
from worker.cli.ops import flower, metrics, stats
from worker.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    from worker.demo import run_demo

    sys.exit(run_demo())


def _register_optional() -> None:
    from worker.fake_x.cli import fake_x_command

    cli.add_command(fake_x_command, "fake-x")


cli.add_command(api_command)
cli.add_command(accounts_group)
cli.add_command(dlq_group)
cli.add_command(retweet)
cli.add_command(undo)
cli.add_command(enqueue)
cli.add_command(status)
cli.add_command(stats)
cli.add_command(metrics)
cli.add_command(flower)
_register_optional()


def main() -> None:
    cli(prog_name="rtq")
