"""`rtq audit`: the operator actions recorded in the audit stream, newest first."""

from __future__ import annotations

import click

from worker.cli.common import Context, emit_json, fail, handle_errors, pass_context, print_table
from worker.domain.dlq import parse_since
from worker.ops.audit import ACTIONS, entries


@click.command("audit")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="At most this many entries.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--action", type=click.Choice(ACTIONS), default=None,
              help="Only this action's entries.")
@click.option("--since", default=None,
              help="Only entries since: a duration back from now (30m, 2h, 7d) or an ISO time.")
@pass_context
@handle_errors
def audit_command(ctx: Context, limit: int, as_json: bool, action: str | None,
                  since: str | None) -> None:
    """List operator actions (who, what, how many jobs), newest first."""
    moment = None
    if since is not None:
        try:
            moment = parse_since(since)
        except ValueError as exc:
            fail(f"since: {exc}", code=2)
    found = entries(ctx.redis, ctx.keys, limit=limit, action=action, since=moment)
    if as_json:
        for entry in found:
            emit_json(entry.as_dict())
        return
    print_table(
        [[e.at, e.action, e.actor, e.target, "-" if e.jobs is None else str(e.jobs),
          " ".join(f"{k}={v}" for k, v in e.details.items()) or "-"] for e in found],
        ["AT", "ACTION", "ACTOR", "TARGET", "JOBS", "DETAILS"],
    )
