"""`rtq cancel`: an operator cancels pending jobs (by id, an account's, a tweet's across
accounts, or one pair's) through the domain's `Cancels`, and the audit trail records it."""

from __future__ import annotations

import click

from worker.cli.common import Context, emit_json, fail, handle_errors, pass_context
from worker.domain.cancelling import (
    CancelReport,
    Cancels,
    InvalidCancel,
    UnknownToCancel,
    selection,
)

# The domain's field names as this command names its arguments.
_ARGUMENT = {"job_ids": "JOB_ID", "account_id": "--account", "tweet_id": "--tweet"}


@click.command("cancel")
@click.argument("job_ids", nargs=-1, metavar="[JOB_ID]...")
@click.option("--account", "account_id", metavar="ACCOUNT",
              help="Every pending job of this account (with --tweet: of that pair).")
@click.option("--tweet", "tweet_id", metavar="TWEET",
              help="Every pending job for this tweet, whatever the account.")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@pass_context
@handle_errors
def cancel(ctx: Context, job_ids: tuple[str, ...], account_id: str | None,
           tweet_id: str | None, as_json: bool) -> None:
    """Cancel pending jobs: JOB_ID..., every pending job of --account, or for --tweet across
    accounts (both: that pair). A cancelled job ends `cancelled` and makes no call; a job
    already running finishes the call it is making and is not tried again."""
    if not job_ids and account_id is None and tweet_id is None:
        fail("nothing to cancel: give JOB_ID..., --account ACCOUNT or --tweet TWEET", code=2)
    if job_ids and (account_id is not None or tweet_id is not None):
        fail("JOB_ID and --account/--tweet: give job ids, or the filters, not both", code=2)
    try:
        chosen = selection(job_ids, account_id, tweet_id)
        report = Cancels(ctx.redis, ctx.keys, job_ttl=ctx.settings.job_ttl).cancel(
            chosen, actor=ctx.actor)
    except InvalidCancel as exc:
        fail(f"{_ARGUMENT.get(exc.field, exc.field)}: {exc.message}",
             code=1 if isinstance(exc, UnknownToCancel) else 2)
        raise AssertionError("unreachable") from None  # fail() exits
    ctx.audit("cancel", report.target, report.cancelled, **report.audit_details())
    if as_json:
        emit_json(report.as_dict())
        return
    for line in describe(report):
        click.echo(line)


def describe(report: CancelReport) -> list[str]:
    """The report in words, one line each."""
    lines = [f"cancelled: {report.cancelled} job(s) ({report.target})",
             f"finished already: {report.finished}"]
    if report.running:
        lines.append(f"running: {len(report.running)} (each finishes the call it is making "
                     f"and is not tried again): {' '.join(report.running)}")
    else:
        lines.append("running: 0")
    if report.missing:
        lines.append(f"no record (expired): {report.missing}")
    return lines
