"""OAuth 2.0 user-context accounts (Authorization Code with PKCE): credentials, PKCE, token
exchange and refresh.

X's access tokens live two hours and its refresh tokens are single use. So a refresh happens
under a per-account lock (one worker refreshes; the others wait and read the result), and the
new pair is stored, compare-and-set on the account's credential version, before the old one is
forgotten. A refused refresh marks the account needs_reauth: its jobs are held until
`rtq accounts authorize` (or `add`) brings new credentials.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

SCOPES = ("tweet.read", "users.read", "tweet.write", "offline.access")
LOCK_TTL_MS = 30_000
# Refresh when this share of a token's life (at most five minutes) is left.
REFRESH_SHARE = 0.2
REFRESH_AT_MOST = 300.0


@dataclass(frozen=True)
class OAuth2Credentials:
    """One account's OAuth 2.0 tokens. Secrets are kept out of repr."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float
    lifetime: float
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    scope: str = ""

    def needs_refresh(self, now: float | None = None) -> bool:
        margin = min(REFRESH_AT_MOST, self.lifetime * REFRESH_SHARE)
        return (now if now is not None else time.time()) >= self.expires_at - margin

    def document(self) -> dict[str, Any]:
        return {"type": "oauth2", "access_token": self.access_token,
                "refresh_token": self.refresh_token, "expires_at": self.expires_at,
                "lifetime": self.lifetime, "client_id": self.client_id,
                "client_secret": self.client_secret, "scope": self.scope}


class TokenError(Exception):
    """The token endpoint refused (`refused` True: the grant is dead; re-authorize) or could not
    be reached (`refused` False: try again later). Never carries a token."""

    def __init__(self, detail: str, *, refused: bool, http_status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.refused = refused
        self.http_status = http_status


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def token_request(
    token_url: str, form: dict[str, str], client_id: str, client_secret: str | None,
    *, session: requests.Session | None = None, timeout: float = 10.0,
) -> OAuth2Credentials:
    """POST to the token endpoint; public clients send client_id, confidential ones Basic auth."""
    # Imported here: every rtq command imports this module (through worker.domain.accounts) and
    # requests costs ~50 ms of start-up, which `rtq enqueue` never needs.
    import requests

    auth = (client_id, client_secret) if client_secret else None
    if client_secret is None:
        form = {**form, "client_id": client_id}
    sender = session or requests
    try:
        response = sender.post(token_url, data=form, auth=auth, timeout=timeout)
    except requests.RequestException as exc:
        raise TokenError(f"token endpoint unreachable ({type(exc).__name__})",
                         refused=False) from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        error = body.get("error", "") if isinstance(body, dict) else ""
        description = body.get("error_description", "") if isinstance(body, dict) else ""
        refused = response.status_code in (400, 401, 403)
        raise TokenError(
            f"token endpoint answered {response.status_code} {error}: {description}".strip(),
            refused=refused, http_status=response.status_code)
    lifetime = float(body.get("expires_in") or 7200)
    return OAuth2Credentials(
        access_token=str(body["access_token"]),
        refresh_token=body.get("refresh_token"),
        expires_at=time.time() + lifetime,
        lifetime=lifetime,
        client_id=client_id,
        client_secret=client_secret,
        scope=str(body.get("scope", "")),
    )


def exchange_code(token_url: str, code: str, verifier: str, redirect_uri: str, client_id: str,
                  client_secret: str | None) -> OAuth2Credentials:
    return token_request(token_url, {"grant_type": "authorization_code", "code": code,
                                     "redirect_uri": redirect_uri, "code_verifier": verifier},
                         client_id, client_secret)


def refresh(token_url: str, credentials: OAuth2Credentials,
            session: requests.Session | None = None) -> OAuth2Credentials:
    if not credentials.refresh_token:
        raise TokenError("no refresh token (the grant lacked offline.access)", refused=True)
    renewed = token_request(token_url, {"grant_type": "refresh_token",
                                        "refresh_token": credentials.refresh_token},
                            credentials.client_id, credentials.client_secret, session=session)
    # X may not send a new refresh token every time; keep the old one then.
    if renewed.refresh_token is None:
        renewed = replace(renewed, refresh_token=credentials.refresh_token)
    return renewed


def new_lock_token() -> str:
    return uuid.uuid4().hex
