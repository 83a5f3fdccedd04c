"""`rtq retweet`, `rtq undo`, `rtq enqueue FILE` and `rtq status JOB_ID`."""

from __future__ import annotations

import json
from typing import BinaryIO

import click

from producers.errors import InvalidJob
from producers.job_request import JobRequest
from worker.cli.common import Context, emit_json, fail, handle_errors, pass_context, progress
from worker.core.errors import EnqueueError

_AT = click.option("--at", default=None, metavar="TIME",
                   help="Do it at this ISO-8601 time (with Z or an offset) instead of now.")
_EXPIRES_AT = click.option(
    "--expires-at", default=None, metavar="TIME",
    help="Its deadline (ISO-8601, with Z or an offset): not started by then, it ends "
         "`expired` without calling X.")
_MAX_DELAY = click.option(
    "--max-delay", default=None, metavar="DURATION",
    help="Its deadline as a duration after it is due (15m, 2h, 1d): not started by then, it "
         "ends `expired` without calling X. Not with --expires-at.")


def _deadline(expires_at: str | None, max_delay: str | None) -> dict[str, str | None]:
    if expires_at is not None and max_delay is not None:
        raise click.UsageError("--expires-at and --max-delay: give one deadline, not both")
    return {"expires_at": expires_at, "max_delay": max_delay}


@click.command("retweet")
@click.argument("account_id")
@click.argument("tweet")
@_AT
@click.option("--undo-after", default=None, metavar="DURATION",
              help="Also undo it this long after (24h, 90m, 1d12h): a temporary boost. "
                   "Prints the undo's job id on a second line.")
@_EXPIRES_AT
@_MAX_DELAY
@pass_context
@handle_errors
def retweet(ctx: Context, account_id: str, tweet: str, at: str | None,
            undo_after: str | None, expires_at: str | None, max_delay: str | None) -> None:
    """Enqueue a retweet of TWEET (an id or a status URL) by ACCOUNT_ID; prints the job id.

    A later retweet or undo of the same tweet by the same account cancels a scheduled one.
    With --undo-after, the undo keeps a --max-delay (after its own time), not --expires-at.
    """
    deadline = _deadline(expires_at, max_delay)
    if undo_after is not None:
        click.echo("\n".join(ctx.producer.enqueue_boost(account_id, tweet, undo_after, at=at,
                                                        **deadline)))
        return
    click.echo(ctx.producer.enqueue("retweet", account_id, tweet, at=at, **deadline))


@click.command("undo")
@click.argument("account_id")
@click.argument("tweet")
@_AT
@_EXPIRES_AT
@_MAX_DELAY
@pass_context
@handle_errors
def undo(ctx: Context, account_id: str, tweet: str, at: str | None, expires_at: str | None,
         max_delay: str | None) -> None:
    """Enqueue an undo of ACCOUNT_ID's retweet of TWEET; prints the job id."""
    click.echo(ctx.producer.enqueue("undo", account_id, tweet, at=at,
                                    **_deadline(expires_at, max_delay)))


@click.command("enqueue")
@click.argument("source", type=click.File("rb"))
@click.option("--skip-invalid", is_flag=True,
              help="Enqueue the valid lines even if some are invalid (still exits 1).")
@pass_context
@handle_errors
def enqueue(ctx: Context, source: BinaryIO, skip_invalid: bool) -> None:
    """Enqueue jobs from JSON Lines (FILE, or - for stdin): {"action", "account_id", "tweet_id"}
    (optional "at", "undo_after", and a deadline: "expires_at" or "max_delay").

    Every line is validated first; bad lines are reported as `line N: <field>: <reason>` and
    nothing is enqueued unless all are valid. Prints one job id per enqueued line.
    """
    valid: list[tuple[int, JobRequest]] = []  # (line, job): a line may give two jobs
    errors: list[str] = []
    for number, raw in enumerate(source, start=1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            errors.append(f"line {number}: line: not valid UTF-8")
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {number}: line: not valid JSON ({exc.msg})")
            continue
        try:
            valid.extend((number, job) for job in JobRequest.from_record(record))
        except InvalidJob as exc:
            errors.append(f"line {number}: {exc.field}: {exc.reason}")
    unknown = ctx.producer.unknown_accounts(job.account_id for _, job in valid)
    if unknown:
        bad_lines = {n: job.account_id for n, job in valid if job.account_id in unknown}
        errors.extend(f"line {n}: account_id: unknown account {account}"
                      for n, account in bad_lines.items())
        valid = [(n, job) for n, job in valid if n not in bad_lines]
    errors.sort(key=lambda e: int(e.split(":", 1)[0].removeprefix("line ")))
    for error in errors:
        click.echo(error, err=True)
    if errors and not skip_invalid:
        fail(f"{len(errors)} invalid line(s); nothing enqueued (use --skip-invalid to enqueue "
             "the valid ones)")
    requests = [job for _, job in valid]
    chunk = 5000
    done = 0
    with progress(len(requests), "enqueueing", len(requests) > chunk) as advance:
        for start in range(0, len(requests), chunk):
            try:
                ids = ctx.producer.enqueue_many(requests[start:start + chunk])
            except (EnqueueError, InvalidJob) as exc:
                # Print what went in, so that it is not enqueued twice when the rest is retried.
                if exc.enqueued:
                    click.echo("\n".join(exc.enqueued))
                fail(f"{exc}; {done + len(exc.enqueued)} of {len(requests)} job(s) enqueued "
                     "before it (their ids are on standard output)")
            click.echo("\n".join(ids))
            done += len(ids)
            advance(len(ids))
    if errors:
        fail(f"{len(errors)} invalid line(s) skipped; {len(requests)} enqueued")


@click.command("status")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--history", is_flag=True, help="Also show every call made to X.")
@pass_context
@handle_errors
def status(ctx: Context, job_id: str, as_json: bool, history: bool) -> None:
    """Show a job's state: queued, deferred, running, succeeded, skipped, superseded, dead,
    cancelled or expired."""
    record = ctx.jobs.get(job_id)
    if record is None:
        fail(f"job_id: unknown job {job_id} (never enqueued, or expired)")
        return
    document = record.as_dict()
    if history:
        document["history"] = list(record.history)
    if as_json:
        emit_json(document)
        return
    for key, value in document.items():
        if key == "history":
            continue
        click.echo(f"{key:<12}{'-' if value is None else value}")
    for call in document.get("history", []):
        click.echo(f"  attempt {call['attempt']}: {call['at']} {call['outcome']} "
                   f"http={call.get('http_status')} worker={call.get('worker')}")
