"""`rtq dlq ...`: list, show, replay, purge the dead-letter queue."""

from __future__ import annotations

import sys

import click

from producers.errors import InvalidJob
from producers.replay import replay as replay_entries
from worker.cli.common import Context, emit_json, fail, handle_errors, pass_context, print_table
from worker.dlq import NOT_REPLAYABLE, REASONS, DeadLetter


@click.group("dlq")
def dlq_group() -> None:
    """Inspect, replay and purge dead letters (jobs that could not succeed)."""


@dlq_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--reason", type=click.Choice(REASONS), default=None)
@click.option("--account", "account_id", default=None, help="Only this account's entries.")
@click.option("--limit", type=click.IntRange(min=1), default=None)
@pass_context
@handle_errors
def list_entries(ctx: Context, as_json: bool, reason: str | None, account_id: str | None,
                 limit: int | None) -> None:
    """List dead letters, oldest first."""
    entries = ctx.dead_letters.list(reason=reason, account_id=account_id, limit=limit)
    if as_json:
        for entry in entries:
            document = entry.as_dict()
            document.pop("history")
            emit_json(document)
        return
    print_table(
        [[e.id, e.reason, str(e.http_status or "-"), e.action or "-", e.account_id or "-",
          e.tweet_id or "-", str(e.attempts), e.failed_at, _short(e.detail)] for e in entries],
        ["ID", "REASON", "HTTP", "ACTION", "ACCOUNT", "TWEET", "ATTEMPTS", "FAILED_AT", "DETAIL"],
    )


@dlq_group.command("show")
@click.argument("entry_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_context
@handle_errors
def show(ctx: Context, entry_id: str, as_json: bool) -> None:
    """Show one dead letter with its attempt history."""
    entry = ctx.dead_letters.get(entry_id)
    if entry is None:
        fail(f"id: unknown dead-letter entry {entry_id}")
        return
    if as_json:
        emit_json(entry.as_dict())
        return
    for key, value in entry.as_dict().items():
        if key != "history":
            click.echo(f"{key:<12}{'-' if value is None else value}")
    for call in entry.history:
        click.echo(f"  attempt {call.get('attempt')}: {call.get('at')} {call.get('outcome')} "
                   f"http={call.get('http_status')} worker={call.get('worker')}")


@dlq_group.command("replay")
@click.argument("entry_ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Replay every replayable entry.")
@pass_context
@handle_errors
def replay(ctx: Context, entry_ids: tuple[str, ...], replay_all: bool) -> None:
    """Enqueue the original action of each entry again as a new job; prints the new job ids."""
    if bool(entry_ids) == replay_all:
        fail("give entry ids or --all (not both)", code=2)
    entries: list[DeadLetter] = []
    failures = 0
    if replay_all:
        entries = [e for e in ctx.dead_letters.list() if e.reason not in NOT_REPLAYABLE]
    else:
        for entry_id in entry_ids:
            entry = ctx.dead_letters.get(entry_id)
            if entry is None:
                click.echo(f"{entry_id}: id: unknown dead-letter entry", err=True)
                failures += 1
                continue
            entries.append(entry)
    # Each entry on its own: one that cannot be replayed is reported and the rest go on.
    for entry in entries:
        try:
            (done,) = replay_entries(ctx.producer, ctx.dead_letters, [entry])
        except InvalidJob as exc:
            click.echo(f"{entry.id}: {exc}", err=True)
            failures += 1
            continue
        click.echo(done.job_id)
    if failures:
        fail(f"{failures} entr{'y' if failures == 1 else 'ies'} not replayed")


@dlq_group.command("purge")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_context
@handle_errors
def purge(ctx: Context, yes: bool) -> None:
    """Delete every dead letter."""
    if not yes:
        if not sys.stdin.isatty():
            fail("refusing to purge without --yes (stdin is not a terminal)")
        count = ctx.dead_letters.count()
        click.confirm(f"Delete all {count} dead letters?", abort=True, err=True)
    removed = ctx.dead_letters.purge()
    click.echo(f"purged {removed} dead letter(s)", err=True)


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
