"""`rtq dlq ...`: list, show, replay, purge and export the dead-letter queue.

`list`, `replay`, `purge` and `export` share the filters --reason, --account, --since, --limit.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import click

from producers.replay import Refused, bulk_selection, replay_each
from worker.cli.common import (
    Context,
    emit_json,
    fail,
    handle_errors,
    pass_context,
    print_table,
    progress,
)
from worker.domain.dlq import REASONS, BadFilter, DeadLetter, Filter, parse_filter
from worker.ops.audit import describe_filter, describe_ids


def filters(func: Callable[..., Any]) -> Callable[..., Any]:
    """The filter options every bulk command takes."""
    options = [
        click.option("--reason", type=click.Choice(REASONS), default=None,
                     help="Only entries dead-lettered for this reason."),
        click.option("--account", "account_id", default=None,
                     help="Only this account's entries."),
        click.option("--since", default=None,
                     help="Only entries that failed since: an ISO-8601 time or a duration "
                          "back from now (30m, 2h, 7d)."),
        click.option("--limit", type=click.IntRange(min=1), default=None,
                     help="At most this many entries (oldest first)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _where(reason: str | None, account_id: str | None, since: str | None) -> Filter:
    try:
        return parse_filter(reason, account_id, since)
    except BadFilter as exc:
        fail(str(exc), code=2)
        raise AssertionError("unreachable") from None


def _select(ctx: Context, where: Filter, limit: int | None) -> list[DeadLetter]:
    return ctx.dead_letters.list(where=where, limit=limit)


@click.group("dlq")
def dlq_group() -> None:
    """Inspect, replay, purge and export dead letters (jobs that could not succeed)."""


@dlq_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@filters
@pass_context
@handle_errors
def list_entries(ctx: Context, as_json: bool, reason: str | None, account_id: str | None,
                 since: str | None, limit: int | None) -> None:
    """List dead letters, oldest first."""
    entries = _select(ctx, _where(reason, account_id, since), limit)
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
@click.option("--all", "replay_all", is_flag=True, help="Every replayable entry.")
@filters
@click.option("--rate", default=None, metavar="N/s",
              help="Enqueue at most N jobs per second, so a mass replay does not stampede X.")
@click.option("--force", is_flag=True,
              help="Also replay entries that failed for a permanent reason, or whose account "
                   "rtq no longer has.")
@pass_context
@handle_errors
def replay(ctx: Context, entry_ids: tuple[str, ...], replay_all: bool, reason: str | None,
           account_id: str | None, since: str | None, limit: int | None, rate: str | None,
           force: bool) -> None:
    """Enqueue each entry's original action again as a new job; prints the new job ids.

    Give entry ids, or --all, or filters. An entry that is not replayed (malformed, permanent
    without --force, account gone) is reported on stderr; the others go on; exit status 1.
    """
    where = _where(reason, account_id, since)
    if bool(entry_ids) == (replay_all or not where.empty or limit is not None):
        fail("give entry ids, or --all / filters (not both)", code=2)
    interval = _interval(rate)
    failures = 0
    entries: list[DeadLetter] = []
    if entry_ids:
        for entry_id in entry_ids:
            entry = ctx.dead_letters.get(entry_id)
            if entry is None:
                click.echo(f"{entry_id}: id: unknown dead-letter entry", err=True)
                failures += 1
            else:
                entries.append(entry)
    else:
        entries = bulk_selection(ctx.dead_letters, where, limit)
    replayed = 0
    with progress(len(entries), "replaying", len(entries) > 100) as advance:
        for result in replay_each(ctx.producer, _paced(entries, interval), force=force):
            if isinstance(result, Refused):
                click.echo(f"{result.entry_id}: {result.reason}", err=True)
                failures += 1
            else:
                click.echo(result.job_id)
                replayed += 1
            advance(1)
    if replayed or not failures:
        target = (describe_ids(entry_ids) if entry_ids else
                  describe_filter(reason=reason, account=account_id, since=since, limit=limit))
        ctx.audit("dlq.replay", target, replayed, refused=failures or None,
                  force=force or None)
    if failures:
        fail(f"{failures} entr{'y' if failures == 1 else 'ies'} not replayed")


@dlq_group.command("purge")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@filters
@pass_context
@handle_errors
def purge(ctx: Context, yes: bool, reason: str | None, account_id: str | None,
          since: str | None, limit: int | None) -> None:
    """Delete dead letters: all of them, or those the filters select."""
    where = _where(reason, account_id, since)
    if not yes:
        if not sys.stdin.isatty():
            fail("refusing to purge without --yes (stdin is not a terminal)")
        count = ctx.dead_letters.count_matching(where, limit)
        click.confirm(f"Delete {count} dead letters?", abort=True, err=True)
    removed = ctx.dead_letters.purge_matching(where, limit)
    ctx.audit("dlq.purge", describe_filter(reason=reason, account=account_id, since=since,
                                           limit=limit), removed)
    click.echo(f"purged {removed} dead letter(s)", err=True)


@dlq_group.command("export")
@click.argument("target", type=click.File("w"))
@filters
@pass_context
@handle_errors
def export(ctx: Context, target: TextIO, reason: str | None, account_id: str | None,
           since: str | None, limit: int | None) -> None:
    """Write entries as JSON Lines that `rtq enqueue` reads back (FILE, or - for stdout).

    Entries without an action and both ids (malformed messages) are skipped and counted.
    """
    import json

    entries = _select(ctx, _where(reason, account_id, since), limit)
    written = skipped = 0
    with progress(len(entries), "exporting", len(entries) > 1000) as advance:
        for entry in entries:
            line = entry.job_line()
            if line is not None:
                target.write(json.dumps(line) + "\n")
                written += 1
            else:
                skipped += 1
            advance(1)
    target.flush()
    click.echo(f"exported {written} job(s)"
               + (f", skipped {skipped} without an action and ids" if skipped else ""), err=True)


def _paced(entries: list[DeadLetter], interval: float) -> Iterator[DeadLetter]:
    """The entries, each handed out `interval` seconds after the one before (`--rate`)."""
    next_at = time.monotonic()
    for entry in entries:
        if interval:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at, time.monotonic()) + interval
        yield entry


def _interval(rate: str | None) -> float:
    if rate is None:
        return 0.0
    text = rate.removesuffix("/s")
    try:
        per_second = float(text)
    except ValueError:
        per_second = 0.0
    if not per_second > 0:
        fail(f"rate: expected N/s with N > 0, got {rate!r}", code=2)
    return 1.0 / per_second


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
