"""`rtq jobs` (an account's jobs, newest first, paged, filtered) and `rtq pair` (what rtq knows of
one account and tweet): thin over worker/ops/finding.py and worker/ops/lookup.py, which the
HTTP API calls too."""

from __future__ import annotations

import click

from worker.cli.common import Context, emit_json, fail, handle_errors, pass_context, print_table
from worker.domain.accounts import default_app_id
from worker.ops.finding import (
    DEFAULT_LIMIT,
    LIMIT_MAX,
    STATE_ALIASES,
    STATES,
    InvalidQuery,
    JobFinder,
    JobQuery,
    JobSummary,
    UnknownAccount,
)
from worker.ops.lookup import read_pair


def _bad(exc: InvalidQuery, *, option: bool = True) -> None:
    # Named as the command takes it (`--state`, or the argument `tweet`); exit 2 for arguments
    # that cannot be used (as click does), 1 for an account rtq does not know.
    name = f"--{exc.argument}" if option else exc.argument
    fail(f"{name}: {exc.reason}", code=1 if isinstance(exc, UnknownAccount) else 2)


def _why(job: JobSummary) -> str:
    if job.wait is not None:
        words = [w for w in (job.wait.reason, job.wait.detail) if w]
        return ": ".join(words)
    if job.state == "running":
        return f"on {job.worker}" if job.worker else ""
    return job.reason or ""


@click.command("jobs")
@click.option("--account", "account_id", metavar="ACCOUNT", help="The account (required).")
@click.option("--tweet", metavar="TWEET", help="Only its jobs for this tweet (id or URL).")
@click.option("--state", metavar="STATE",
              help=f"Only jobs in this state: {', '.join(STATES)} "
                   f"({', '.join(f'{a} = {s}' for a, s in STATE_ALIASES.items())}).")
@click.option("--limit", default=str(DEFAULT_LIMIT), show_default=True, metavar="N",
              help=f"Jobs per page (1 to {LIMIT_MAX}).")
@click.option("--cursor", metavar="CURSOR", help="Go on from where a page ended (its next "
              "cursor).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the page as one JSON object: jobs, next_cursor, examined.")
@pass_context
@handle_errors
def jobs(ctx: Context, account_id: str | None, tweet: str | None, state: str | None,
         limit: str, cursor: str | None, as_json: bool) -> None:
    """List an account's jobs, newest first, a page at a time: id, action, tweet, state,
    created and updated, and for a waiting job its due time and why it waits (rate_window,
    pause, hold, schedule, retry, breaker).

    A call examines at most 5,000 of the account's index entries: with a filter that matches
    little it may print fewer jobs than --limit (even none) and a cursor to go on from.
    """
    try:
        query = JobQuery.parse(account_id, tweet=tweet, state=state, limit=limit,
                               cursor=cursor)
        page = JobFinder(ctx.redis, ctx.keys).jobs(query)
    except InvalidQuery as exc:
        _bad(exc)
        return
    if as_json:
        emit_json(page.as_dict())
        return
    if page.jobs:
        print_table([[j.job_id, j.action, j.tweet_id or "-", j.state, j.created_at or "-",
                      j.updated_at or "-", (j.wait.due_at if j.wait else None) or "-",
                      _why(j) or "-"] for j in page.jobs],
                    ["JOB", "ACTION", "TWEET", "STATE", "CREATED", "UPDATED", "DUE", "WHY"])
    if page.next_cursor is not None:
        found = "" if page.jobs else f"no match in {page.examined:,} index entries; "
        click.echo(f"{found}next page: --cursor {page.next_cursor}", err=True)
    elif not page.jobs:
        click.echo("no such job", err=True)



@click.command("pair")
@click.argument("account_id", metavar="ACCOUNT")
@click.argument("tweet", metavar="TWEET")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_context
@handle_errors
def pair(ctx: Context, account_id: str, tweet: str, as_json: bool) -> None:
    """What rtq knows of ACCOUNT and TWEET: the latest intent, the known state and when X said
    it, the job running or waiting and why, the scheduled jobs, and what holds the pair's jobs
    back now (a pause, a held account or app, the breaker, a spent rate window)."""
    try:
        query = JobQuery.parse(account_id, tweet=tweet)
        JobFinder(ctx.redis, ctx.keys).require_account(query.account_id)
    except InvalidQuery as exc:
        _bad(exc, option=False)
        return
    assert query.tweet_id is not None
    settings = ctx.settings
    state = read_pair(ctx.redis, ctx.keys, query.account_id, query.tweet_id,
                      known_state_ttl=settings.known_state_ttl,
                      default_app=default_app_id(settings.consumer_key))
    if as_json:
        emit_json(state.as_dict())
        return
    intent = state.intent
    lines = [("account", state.account_id), ("tweet", state.tweet_id),
             ("intent", f"{intent.get('action')} (seq {intent.get('seq')}, job "
                        f"{intent.get('job')})" if intent else "none recorded (or expired)"),
             ("known", f"{state.known} (X said so at {state.known_said_at or '?'}; trusted "
                       f"{state.known_ttl} s more)" if state.known else "unknown: rtq will ask "
                       "X")]
    if state.latest is not None:
        lines.append(("latest job", f"{state.latest.job_id} {state.latest.state}"
                      + (f" ({_why(state.latest)})" if _why(state.latest) else "")))
    if state.claim:
        running = state.running
        lines.append(("running", f"{state.claim_job} on {running.worker if running else '?'}, "
                      f"lease {state.claim_ttl_ms} ms left"))
    for job in state.waiting:
        due = job.wait.due_at if job.wait and job.wait.due_at else "until released"
        lines.append(("waiting", f"{job.job_id} {job.action}: {_why(job)}; due {due}"))
    waiting = {job.job_id for job in state.waiting}
    for job_id, due in state.scheduled:
        if job_id not in waiting:
            lines.append(("scheduled", f"{job_id} due {due}"))
    for condition in state.conditions:
        lines.append(("held back by", condition.detail
                      + (f" until {condition.until}" if condition.until else "")))
    for name, value in lines:
        click.echo(f"{name:<14}{value}")
