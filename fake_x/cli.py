"""`python -m fake_x` / `rtq fake-x`: run the X API emulator from the command line.

The first and only line on stdout is the base URL, so a parent process can start the emulator on
port 0 and learn where it listens; every diagnostic goes to stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import click

from fake_x.accounts import Credentials
from fake_x.app import create_app, emulator_of
from fake_x.config import (
    ALREADY_RETWEETED_MODES,
    ConfigError,
    EmulatorConfig,
    merge_config,
    parse_rate_limit,
)
from fake_x.server import serve
from fake_x.state import Emulator

DEFAULT_PORT = 8787


def _load_accounts(emulator: Emulator, path: Path) -> int:
    """Register each JSON line of `path` (blank lines skipped); errors name the line."""
    count = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            emulator.accounts.register(
                Credentials.from_json(data), name=data.get("name"), username=data.get("username")
            )
        except ValueError as exc:  # AccountError and JSONDecodeError are ValueErrors
            # Name the line but never echo it: it holds secrets.
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise click.ClickException(f"{path}:{number}: bad credential set: {reason}") from None
        count += 1
    return count


def _announce(url: str) -> None:
    click.echo(url)
    sys.stdout.flush()


@click.command("fake-x")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="RTQ_FAKE_X_HOST",
    help="Interface to bind; the admin API has no auth, so keep it local.",
)
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=int,
    envvar="RTQ_FAKE_X_PORT",
    help="Port to bind; 0 picks a free one.",
)
@click.option(
    "--rate-limit",
    default=None,
    envvar="RTQ_FAKE_X_RATE_LIMIT",
    help="Requests per user per endpoint per window, as LIMIT/SECONDS (50/900).",
)
@click.option(
    "--latency-ms",
    default=0.0,
    type=float,
    envvar="RTQ_FAKE_X_LATENCY_MS",
    help="Delay added to every X API request.",
)
@click.option(
    "--server-error-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    envvar="RTQ_FAKE_X_SERVER_ERROR_RATE",
    help="Share of calls answered with 503.",
)
@click.option(
    "--already-retweeted",
    default="200",
    type=click.Choice(ALREADY_RETWEETED_MODES),
    envvar="RTQ_FAKE_X_ALREADY_RETWEETED",
    help="Answer to retweeting an already-retweeted tweet.",
)
@click.option(
    "--accounts",
    "accounts_file",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="RTQ_FAKE_X_ACCOUNTS",
    help="JSON Lines of credential sets to register.",
)
@click.option(
    "--oauth2-access-ttl",
    default=None,
    type=click.IntRange(min=1),
    envvar="RTQ_FAKE_X_OAUTH2_ACCESS_TTL",
    help="Seconds an OAuth 2.0 access token lives (X: 7200).",
)
@click.option(
    "--seed",
    default=None,
    type=int,
    envvar="RTQ_FAKE_X_SEED",
    help="Seed for random faults, so runs repeat.",
)
def fake_x_command(
    host: str,
    port: int,
    rate_limit: str | None,
    latency_ms: float,
    server_error_rate: float,
    already_retweeted: str,
    accounts_file: Path | None,
    oauth2_access_ttl: int | None,
    seed: int | None,
) -> None:
    """Serve an emulation of X's Manage Retweets API (and its /_emulator/ admin API)."""
    updates: dict[str, object] = {
        "latency_ms": latency_ms,
        "server_error_rate": server_error_rate,
        "already_retweeted": already_retweeted,
        "seed": seed,
    }
    try:
        if oauth2_access_ttl is not None:
            updates["oauth2_access_ttl"] = oauth2_access_ttl
        if rate_limit is not None:
            updates["rate_limit"], updates["rate_window"] = parse_rate_limit(rate_limit)
        config = merge_config(EmulatorConfig(), updates)
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None
    app = create_app(config)
    if accounts_file is not None:
        count = _load_accounts(emulator_of(app), accounts_file)
        click.echo(f"fake_x: registered {count} accounts from {accounts_file}", err=True)
    try:
        asyncio.run(serve(app, host, port, _announce))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
