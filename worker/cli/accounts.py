"""`rtq accounts ...`: add, list, limit, release, remove, rotate-keys. Secrets are read from
stdin or a file, never from the command line."""

from __future__ import annotations

import json
import sys
from typing import TextIO

import click

from worker.cli.common import Context, emit_json, fail, handle_errors, pass_context, print_table
from worker.core.env import parse_rate
from worker.core.ids import InvalidId, parse_account_id
from worker.domain.account_info import AccountInfo
from worker.x_api.credentials import InvalidCredentials, parse_credentials


@click.group("accounts")
def accounts_group() -> None:
    """Manage accounts (OAuth 1.0a credentials, encrypted with RTQ_SECRET_KEY)."""


@accounts_group.command("add")
@click.option("--file", "source", type=click.File("r"), default=None,
              help="Read the JSON object from this file instead of stdin.")
@pass_context
@handle_errors
def add(ctx: Context, source: TextIO | None) -> None:
    """Add or replace an account from one JSON object on stdin.

    Fields: access_token, access_token_secret, and optionally consumer_key, consumer_secret
    (otherwise RTQ_CONSUMER_KEY / RTQ_CONSUMER_SECRET are used). Prints the account id.
    """
    stream = source or sys.stdin
    if stream is sys.stdin and sys.stdin.isatty():
        click.echo("Paste the credentials JSON, then Ctrl-D:", err=True)
    text = stream.read()
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidCredentials("input", f"not valid JSON ({exc.msg} at line {exc.lineno})") \
            from None
    credentials = parse_credentials(payload)
    account_id = ctx.accounts(need_key=True).add(credentials)
    ctx.audit("accounts.add", account_id)
    if credentials.consumer_key is None and ctx.settings.consumer_key is None:
        click.echo("warning: no consumer_key given and RTQ_CONSUMER_KEY is not set here; "
                   "workers need RTQ_CONSUMER_KEY/RTQ_CONSUMER_SECRET for this account", err=True)
    click.echo(account_id)


@accounts_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_context
@handle_errors
def list_accounts(ctx: Context, as_json: bool) -> None:
    """List accounts (never their secrets): state (active, needs_reauth, locked, suspended),
    app, rate limit, budgets left, held jobs, and why X refuses a held account."""
    infos = ctx.accounts().list()
    if as_json:
        for info in infos:
            emit_json(info.as_dict())
        return
    print_table(
        [[i.account_id, i.state, "own" if i.own_consumer_key else "default", i.app or "-",
          i.rate_limit or f"{ctx.settings.rate_limit}/{ctx.settings.rate_window} (default)",
          _budget_text(i, "retweet"), _budget_text(i, "undo"), _budget_text(i, "day"),
          str(i.held), i.added_at or "-", " ".join((i.detail or "-").split())] for i in infos],
        ["ACCOUNT_ID", "STATE", "CONSUMER_KEY", "APP", "RATE_LIMIT", "RETWEET_LEFT", "UNDO_LEFT",
         "DAY_LEFT", "HELD", "ADDED_AT", "DETAIL"],
    )


def _account_id(value: str) -> str:
    """ACCOUNT_ID as given, made canonical; not an id: exit 2, naming the argument."""
    try:
        return parse_account_id(value)
    except InvalidId as exc:
        fail(f"account_id: {exc}", code=2)
        raise AssertionError("unreachable") from None


def _budget_text(info: AccountInfo, name: str) -> str:
    budget = info.budgets.get(name)
    if budget is None or budget.limit is None:
        return "-"
    until = f" until {budget.reset_at[11:19]}" if budget.reset_at else ""
    return f"{budget.remaining}/{budget.limit}{until}"


@accounts_group.command("limit")
@click.argument("account_id")
@click.argument("rate", required=False)
@click.option("--default", "use_default", is_flag=True, help="Go back to RTQ_RATE_LIMIT.")
@pass_context
@handle_errors
def limit(ctx: Context, account_id: str, rate: str | None, use_default: bool) -> None:
    """Set ACCOUNT_ID's calls per window per endpoint, as LIMIT/SECONDS (Pro 50/900, Basic
    5/900, Free 1/900), until X's headers say otherwise."""
    if (rate is None) != use_default:
        fail("give LIMIT/SECONDS or --default", code=2)
    account_id = _account_id(account_id)
    store = ctx.accounts()
    if not store.exists(account_id):
        fail(f"account_id: unknown account {account_id}")
    parsed = None
    if rate is not None:
        try:
            parsed = parse_rate(rate)
        except ValueError as exc:
            fail(f"rate: {exc}", code=2)
    store.set_rate_limit(account_id, parsed)
    ctx.audit("accounts.limit", account_id, limit=rate or "default")
    click.echo(f"account {account_id}: "
               f"{rate if rate else 'RTQ_RATE_LIMIT'} per endpoint", err=True)


@accounts_group.command("release")
@click.argument("account_id")
@pass_context
@handle_errors
def release(ctx: Context, account_id: str) -> None:
    """Make ACCOUNT_ID active again once X accepts it (unlocked, reinstated): its held jobs go
    back to the queue."""
    account_id = _account_id(account_id)
    released = ctx.accounts().release(account_id)
    if released is None:
        fail(f"account_id: unknown account {account_id}")
    ctx.audit("accounts.release", account_id, released)
    click.echo(f"account {account_id}: active, {released} held job(s) back in the queue")


@accounts_group.command("remove")
@click.argument("account_id")
@pass_context
@handle_errors
def remove(ctx: Context, account_id: str) -> None:
    """Remove an account and its credentials."""
    if not ctx.accounts().remove(account_id):
        fail(f"account_id: unknown account {account_id}")
    ctx.audit("accounts.remove", account_id)
    click.echo(f"removed account {account_id}", err=True)


@accounts_group.command("rotate-keys")
@pass_context
@handle_errors
def rotate_keys(ctx: Context) -> None:
    """Re-encrypt every account with the first key of RTQ_SECRET_KEY."""
    count = ctx.accounts(need_key=True).rotate()
    ctx.audit("accounts.rotate-keys", "accounts", accounts=count)
    click.echo(f"re-encrypted {count} account(s) with the first key", err=True)


def _register_authorize() -> None:
    from worker.cli.authorize import authorize

    accounts_group.add_command(authorize)


_register_authorize()
