"""`rtq api`: the HTTP producer."""

from __future__ import annotations

import os

import click

from worker.cli.common import Context, fail, handle_errors, pass_context


@click.command("api")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@pass_context
@handle_errors
def api_command(ctx: Context, host: str, port: int) -> None:
    """Serve the HTTP API: jobs (POST /v1/jobs, GET /v1/jobs/{id}) and the operator controls
    (dead letters, pauses, accounts and apps, stats, audit; /openapi.json lists them).
    Bearer tokens come from RTQ_API_TOKENS (comma-separated, `ro:TOKEN` for a read-only
    one), never argv."""
    # Imported here: aiohttp takes a noticeable share of every other command's start-up.
    from aiohttp import web

    from producers.http_api import create_app
    from worker.core.logins import TOKENS_VARIABLE
    from worker.core.observability import setup_audit_log

    tokens = tuple(t.strip() for t in os.environ.get(TOKENS_VARIABLE, "").split(",")
                   if t.strip())
    if not tokens:
        fail("RTQ_API_TOKENS: set at least one bearer token (comma-separated) to serve the API")
    app = create_app(ctx.settings, ctx.redis, tokens)
    setup_audit_log(ctx.settings)  # the audit lines of operator actions, on stderr
    click.echo(f"rtq api listening on http://{host}:{port}", err=True)
    web.run_app(app, host=host, port=port, print=None, access_log=None)
