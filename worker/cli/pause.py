"""`rtq pause` / `rtq resume`: an operator stops work (everything, one account, or one tweet
across accounts) without stopping workers or producers, and lets it go again."""

from __future__ import annotations

import click

from worker.cli.common import Context, emit_json, fail, handle_errors, pass_context, print_table
from worker.domain.pauses import Pauses, UnknownAccount, scope_of

_SCOPE_OPTIONS = (
    click.option("--account", "account_id", metavar="ACCOUNT",
                 help="Only this account's jobs."),
    click.option("--tweet", "tweet_id", metavar="TWEET",
                 help="Only the jobs for this tweet, whatever the account."),
)


def _scoped(command: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(_SCOPE_OPTIONS):
        command = option(command)
    return command


def _scope(account_id: str | None, tweet_id: str | None) -> str:
    try:
        return scope_of(account_id, tweet_id)
    except ValueError as exc:
        fail(str(exc), code=2)
        raise AssertionError("unreachable") from None  # fail() exits


@click.command("pause")
@_scoped
@click.option("--list", "show", is_flag=True, help="List the pauses in force instead.")
@click.option("--json", "as_json", is_flag=True, help="With --list: one JSON object per line.")
@pass_context
@handle_errors
def pause(ctx: Context, account_id: str | None, tweet_id: str | None, show: bool,
          as_json: bool) -> None:
    """Pause work: everything (no option), one account, or one tweet. Every worker holds the
    jobs it is given until `rtq resume`: no call, no attempt, no dead letter; producers keep
    enqueuing. A job already running finishes."""
    pauses = Pauses(ctx.redis, ctx.keys)
    if show:
        found = pauses.list()
        if as_json:
            for item in found:
                emit_json(item.as_dict())
            return
        print_table([[p.scope, p.since or "-", str(p.held_jobs)] for p in found],
                    ["SCOPE", "SINCE", "HELD_JOBS"])
        return
    scope = _scope(account_id, tweet_id)
    try:
        started = pauses.pause(scope)
    except UnknownAccount as exc:
        fail(str(exc))
        return
    if started:
        ctx.audit("pause", scope)
    click.echo(f"paused: {scope}" if started else f"{scope} was paused already")


@click.command("resume")
@_scoped
@pass_context
@handle_errors
def resume(ctx: Context, account_id: str | None, tweet_id: str | None) -> None:
    """End a pause (the same scope as `rtq pause` was given): its held jobs go back to the
    queue in the order they came, each account with its fair share, within the rate budgets."""
    scope = _scope(account_id, tweet_id)
    released = Pauses(ctx.redis, ctx.keys).resume(scope)
    if released is None:
        fail(f"{scope} is not paused (`rtq pause --list` shows the pauses)")
    ctx.audit("resume", scope, released)
    click.echo(f"resumed: {scope}, {released} held job(s) back in the queue")
