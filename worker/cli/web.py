"""`rtq web`: the web console."""

from __future__ import annotations

import os

import click

from worker.cli.common import Context, handle_errors, pass_context

WEB_PORT = 8090


@click.command("web")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=WEB_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option("--secure-cookies", is_flag=True,
              help="Mark the session cookie Secure (behind a proxy that terminates TLS; "
                   "direct https requests get it anyway).")
@pass_context
@handle_errors
def web_command(ctx: Context, host: str, port: int, secure_cookies: bool) -> None:
    """Serve the web console: overview, dead letters, accounts, lookups. Sign-in with a token
    of RTQ_API_TOKENS or a login of RTQ_WEB_BASIC_AUTH (`ro:` for read-only), never argv."""
    # Imported here: aiohttp takes a noticeable share of every other command's start-up.
    from aiohttp import web

    from worker.core.observability import setup_audit_log
    from worker.web.app import create_app
    from worker.web.auth import Authenticator

    auth = Authenticator.from_env(os.environ, secure_cookies=secure_cookies)
    app = create_app(ctx.settings, ctx.redis, auth)
    setup_audit_log(ctx.settings)  # the audit lines of operator actions, on stderr
    click.echo(f"rtq web listening on http://{host}:{port}", err=True)
    web.run_app(app, host=host, port=port, print=None, access_log=None)
