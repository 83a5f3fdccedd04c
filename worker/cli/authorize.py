"""`rtq accounts authorize`: add an account through OAuth 2.0 Authorization Code with PKCE.

Prints the authorize URL (stderr), receives the callback on a local port, checks `state`,
exchanges the code for tokens, asks X who the user is, and stores the account like an OAuth
1.0a one (encrypted). The client secret, for confidential clients, comes from
RTQ_OAUTH2_CLIENT_SECRET, never from the command line.
"""

from __future__ import annotations

import os
import secrets
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import click
import requests

from worker.cli.common import Context, fail, handle_errors, pass_context
from worker.core.ids import InvalidId, parse_account_id
from worker.x_api.client import BearerAuth
from worker.x_api.oauth2 import SCOPES, TokenError, exchange_code, pkce_pair


class _Callback(BaseHTTPRequestHandler):
    """Takes the one redirect back from X and hands its query to the waiting command."""

    received: dict[str, str] = {}
    done = threading.Event()

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/callback":
            self.send_error(404)
            return
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        type(self).received.update(query)
        type(self).done.set()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        message = ("rtq: authorization received; you can close this window.\n"
                   if "code" in query else "rtq: authorization failed; see the terminal.\n")
        self.wfile.write(message.encode())

    def log_message(self, format: str, *args: Any) -> None:
        return  # the query holds the code: never log it


@click.command("authorize")
@click.option("--client-id", required=True, help="Your X app's OAuth 2.0 client id.")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Local port for the callback (0: any free one). The app's callback URL "
                   "must be http://127.0.0.1:PORT/callback.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for X.")
@pass_context
@handle_errors
def authorize(ctx: Context, client_id: str, port: int, timeout: float) -> None:
    """Authorize an account with OAuth 2.0 (PKCE) and store it; prints the account id."""
    settings = ctx.settings
    client_secret = os.environ.get("RTQ_OAUTH2_CLIENT_SECRET") or None
    store = ctx.accounts(need_key=True)
    _Callback.received = {}
    _Callback.done = threading.Event()
    server = HTTPServer(("127.0.0.1", port), _Callback)
    redirect_uri = f"http://127.0.0.1:{server.server_port}/callback"
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    url = settings.oauth2_authorize_url + "?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": " ".join(SCOPES), "state": state, "code_challenge": challenge,
        "code_challenge_method": "S256",
    })
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        click.echo("Open this URL, sign in as the account and authorize the app:", err=True)
        click.echo(url, err=True)
        if not _Callback.done.wait(timeout):
            fail(f"no answer from X within {timeout:g}s")
    finally:
        server.shutdown()
        server.server_close()
    received = _Callback.received
    if not secrets.compare_digest(received.get("state", ""), state):
        fail("state: the callback's state does not match (a forged or stale redirect)")
    if "code" not in received:
        error = f"{received.get('error', 'no code')} {received.get('error_description', '')}"
        fail(f"X refused: {error.strip()}")
    try:
        tokens = exchange_code(settings.oauth2_token_url, received["code"], verifier,
                               redirect_uri, client_id, client_secret)
    except TokenError as exc:
        fail(f"token exchange failed: {exc.detail}")
    me = requests.get(f"{settings.x_api_url}/2/users/me", auth=BearerAuth(tokens.access_token),
                      timeout=10)
    try:
        account_id = parse_account_id(me.json()["data"]["id"])
    except (ValueError, KeyError, TypeError, InvalidId):
        fail(f"X did not say who the user is (GET /2/users/me answered {me.status_code})")
    missing = sorted(set(SCOPES) - set(tokens.scope.split()))
    if missing:
        click.echo(f"warning: X granted no {', '.join(missing)}", err=True)
    click.echo(store.add_oauth2(account_id, tokens))
