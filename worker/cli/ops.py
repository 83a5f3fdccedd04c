"""Operating rtq: `rtq stats`, `rtq metrics` (Prometheus) and `rtq flower`."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from worker.cli.common import Context, emit_json, fail, handle_errors, pass_context, print_table
from worker.ops.stats import PARKED_REASONS, Snapshot, StatsReader

# Constants only: the modules behind them load when their command runs.
METRICS_PORT = 9540
# `rtq stats` names this many pauses at most (there may be thousands of paused accounts).
PAUSES_SHOWN = 5
FLOWER_PORT = 5555


@click.command("stats")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on one line.")
@pass_context
@handle_errors
def stats(ctx: Context, as_json: bool) -> None:
    """Queue depth, running, parked and dead-lettered jobs, workers, held apps, the circuit
    breaker, the pauses in force, and each account's state and budgets, read from Redis."""
    snapshot = StatsReader(ctx.redis, ctx.settings).snapshot()
    if as_json:
        emit_json(snapshot.as_dict())
        return
    _print_stats(snapshot)


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{name}: {count}" for name, count in counts.items()) or "-"


def _print_stats(snapshot: Snapshot) -> None:
    document = snapshot.as_dict()
    dead = document["dead_letters"]
    oldest = f", oldest failed at {dead['oldest_failed_at']}" if dead["oldest_failed_at"] else ""
    rows = [
        ["queue", str(snapshot.queue_depth)],
        ["running", str(snapshot.running)],
        ["parked", f"{sum(snapshot.parked.values())} ("
                   + _pairs({r: snapshot.parked[r] for r in PARKED_REASONS}) + ")"],
        ["dead letters", f"{dead['total']} ({_pairs(dead['by_reason'])}){oldest}"],
        ["workers", f"{len(snapshot.workers)} ({', '.join(sorted(snapshot.workers)) or '-'})"],
        ["outcomes", _pairs(document["outcomes"])],
        ["calls to X", _pairs(document["calls"])],
        ["accounts", f"{len(snapshot.accounts)} ({_pairs(snapshot.accounts_by_state)})"],
        ["apps held", _apps_held(snapshot)],
        ["breaker", snapshot.breaker.state
                    + (f" until {snapshot.breaker.until}" if snapshot.breaker.until else "")],
        ["paused", _paused(snapshot)],
    ]
    print_table(rows, ["measure", "value"])
    if not snapshot.accounts:
        return
    click.echo("")
    account_rows = []
    for account in document["accounts"]:
        account_rows.append([
            account["account_id"], account["state"], account["rate_limit"] or "default",
            _budget(account["budgets"].get("retweet")), _budget(account["budgets"].get("undo")),
            _budget(account["budgets"].get("day")), str(account["held_jobs"]),
            str(sum(account["waiting"].values())), account["app"] or "-",
        ])
    print_table(account_rows, ["account_id", "state", "rate_limit", "retweet", "undo", "day",
                               "held", "waiting", "app"])


def _apps_held(snapshot: Snapshot) -> str:
    """`N (app: reason, jobs, ...)`: the held apps and the jobs waiting for each."""
    if not snapshot.apps:
        return "0"
    return f"{len(snapshot.apps)} (" + ", ".join(
        f"{hold.app}: {hold.reason}, {hold.held_jobs} job(s)" for hold in snapshot.apps) + ")"


def _paused(snapshot: Snapshot) -> str:
    """`N scope(s), M job(s) held (scope since T: jobs, ...)`: the first few pauses in force."""
    if not snapshot.pauses:
        return "0"
    shown = ", ".join(f"{pause.scope} since {pause.since or '?'}: {pause.held_jobs} job(s)"
                      for pause in snapshot.pauses[:PAUSES_SHOWN])
    more = len(snapshot.pauses) - PAUSES_SHOWN
    if more > 0:
        shown += f", {more} more (rtq pause --list)"
    return (f"{len(snapshot.pauses)} scope(s), {sum(snapshot.paused_jobs.values())} job(s) "
            f"held ({shown})")


def _budget(budget: dict[str, Any] | None) -> str:
    """`remaining/limit` (`-` when rtq has not called that endpoint yet)."""
    if not budget:
        return "-"
    remaining = "?" if budget["remaining"] is None else str(budget["remaining"])
    limit = "?" if budget["limit"] is None else str(budget["limit"])
    return f"{remaining}/{limit}"


@click.command("metrics")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=METRICS_PORT, show_default=True,
              help="Port to listen on (0: any free port).")
@pass_context
@handle_errors
def metrics(ctx: Context, host: str, port: int) -> None:
    """Serve Prometheus metrics read from Redis on each scrape, at /metrics. Prints the URL
    on stdout once listening."""
    from prometheus_client import start_http_server

    from worker.ops.metrics import registry

    reader = StatsReader(ctx.redis, ctx.settings)
    try:
        server, thread = start_http_server(port, host,
                                           registry(reader, ctx.settings.metrics))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
        return
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"http://{shown}:{server.server_port}/metrics")
    sys.stdout.flush()
    try:
        thread.join()
    except KeyboardInterrupt:
        server.shutdown()


@click.command("flower", context_settings={"ignore_unknown_options": True,
                                          "allow_extra_args": True})
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", type=click.IntRange(1, 65535), default=FLOWER_PORT, show_default=True)
@click.option("--insecure-no-auth", is_flag=True,
              help="Start without a login (anyone who reaches the port sees every job and "
                   "can control workers).")
@click.argument("flower_args", nargs=-1, type=click.UNPROCESSED)
@handle_errors
def flower(host: str, port: int, insecure_no_auth: bool, flower_args: tuple[str, ...]) -> None:
    """Start Flower on rtq's Celery app: `celery -A worker flower`, plus any Flower options.

    The login comes from the environment, never the command line:
    FLOWER_BASIC_AUTH=user:password (or Flower's OAuth: FLOWER_AUTH_PROVIDER and
    FLOWER_AUTH). Flower's /metrics and /healthcheck answer without it; under
    --insecure-no-auth its API still needs FLOWER_UNAUTHENTICATED_API=true to answer."""
    from worker.core.settings import Settings
    from worker.ops.flower import BASIC_AUTH_VARIABLE, OAUTH_VARIABLES, check_login, flower_argv

    Settings.from_env()  # fail here, naming the variable, rather than inside Flower
    argv = flower_argv(sys.executable, host, port, flower_args)
    configured = any(os.environ.get(name, "").strip()
                     for name in (BASIC_AUTH_VARIABLE, *OAUTH_VARIABLES))
    if configured or not insecure_no_auth:
        check_login(os.environ)
    else:
        click.echo("warning: Flower is starting WITHOUT a login (--insecure-no-auth)", err=True)
    sys.stdout.flush()
    os.execv(sys.executable, argv)
