"""`rtq accounts ...`: add, list, remove, rotate-keys. Secrets are read from stdin or a file,
never from the command line."""

from __future__ import annotations

import json
import sys
from typing import TextIO

import click

from worker.accounts import InvalidCredentials, parse_credentials
from worker.cli.common import Context, emit_json, fail, handle_errors, pass_context, print_table


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
    if credentials.consumer_key is None and ctx.settings.consumer_key is None:
        click.echo("warning: no consumer_key given and RTQ_CONSUMER_KEY is not set here; "
                   "workers need RTQ_CONSUMER_KEY/RTQ_CONSUMER_SECRET for this account", err=True)
    click.echo(account_id)


@accounts_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_context
@handle_errors
def list_accounts(ctx: Context, as_json: bool) -> None:
    """List accounts (never their secrets)."""
    infos = ctx.accounts().list()
    if as_json:
        for info in infos:
            emit_json(info.as_dict())
        return
    print_table(
        [[i.account_id, i.state, "own" if i.own_consumer_key else "default",
          i.added_at or "-", i.updated_at or "-"] for i in infos],
        ["ACCOUNT_ID", "STATE", "CONSUMER_KEY", "ADDED_AT", "UPDATED_AT"],
    )


@accounts_group.command("remove")
@click.argument("account_id")
@pass_context
@handle_errors
def remove(ctx: Context, account_id: str) -> None:
    """Remove an account and its credentials."""
    if not ctx.accounts().remove(account_id):
        fail(f"account_id: unknown account {account_id}")
    click.echo(f"removed account {account_id}", err=True)


@accounts_group.command("rotate-keys")
@pass_context
@handle_errors
def rotate_keys(ctx: Context) -> None:
    """Re-encrypt every account with the first key of RTQ_SECRET_KEY."""
    count = ctx.accounts(need_key=True).rotate()
    click.echo(f"re-encrypted {count} account(s) with the first key", err=True)
