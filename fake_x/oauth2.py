"""OAuth 2.0 Authorization Code with PKCE (user context): clients, codes and tokens, as X runs it.

The rules X applies and rtq must live with: an authorization code is single use and short-lived;
an access token expires (two hours by default); a refresh token is issued only with the
`offline.access` scope and is single use: each refresh returns a new pair and kills the old
refresh token, while the old access token lives out its lifetime. A client that loses the new
pair (crash, timeout) has lost the account until the user authorizes again, which is why the
emulator makes that easy to provoke. Scopes, PKCE, token shapes and error wording live in
oauth2_rules.py; this module keeps the state.

No method here awaits, so checking a code or refresh token and spending it cannot interleave
with another request: two concurrent refreshes with one token get one pair and one refusal.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from fake_x.oauth2_rules import (
    CLIENT_AUTH_FAILED,
    INVALID_CODE,
    INVALID_TOKEN,
    MISSING_AUTHORIZATION,
    OFFLINE_ACCESS,
    REDIRECT_MISMATCH,
    REQUIRED_SCOPES,
    VERIFIER_MISMATCH,
    OAuth2Error,
    missing,
    new_client_id,
    new_token,
    pkce_matches,
    random_string,
)


class ClientConflictError(ValueError):
    """The client id is already registered with another secret or type."""


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    secret: str | None  # None: a public client (native or single-page app)
    redirect_uris: tuple[str, ...] = ()  # empty: any redirect_uri is accepted

    @property
    def confidential(self) -> bool:
        return self.secret is not None

    def public(self) -> dict[str, Any]:
        """What the admin listing shows: never the secret."""
        return {
            "client_id": self.client_id,
            "confidential": self.confidential,
            "redirect_uris": list(self.redirect_uris),
        }


@dataclass(frozen=True, slots=True)
class User:
    """The user who approved a grant, as `GET /2/users/me` describes them."""

    user_id: str
    name: str
    username: str


@dataclass(frozen=True, slots=True)
class Grant:
    """What a user approved for a client; codes and tokens all stand for one."""

    client_id: str
    user: User
    scopes: tuple[str, ...]  # as requested, without duplicates

    def allows(self, action: str) -> bool:
        return REQUIRED_SCOPES[action] <= set(self.scopes)


@dataclass(frozen=True, slots=True)
class _Code:
    grant: Grant
    redirect_uri: str
    challenge: str
    method: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class _Access:
    grant: Grant
    expires_at: float


@dataclass(frozen=True, slots=True)
class Redeemable:
    """A checked token request: the grant and the single-use credential it will spend."""

    grant: Grant
    grant_type: str
    credential: str


class OAuth2Registry:
    """Clients, outstanding codes, and the live access and refresh tokens."""

    def __init__(self) -> None:
        self._clients: dict[str, Client] = {}
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, Grant] = {}
        self._sweep_at = 1024  # prune expired entries when the tables grow past this

    # Clients

    def register_client(
        self,
        client_id: str | None = None,
        secret: str | None = None,
        confidential: bool = False,
        redirect_uris: tuple[str, ...] = (),
    ) -> Client:
        """Register a client (generated id and, if confidential, secret, unless given).
        Registering the same values again is a no-op; other values for a known id conflict."""
        known = self._clients.get(client_id) if client_id else None
        if known is not None and secret is None and confidential:
            secret = known.secret  # "the confidential client abc" again: same client
        if confidential and secret is None:
            secret = random_string(50)
        client = Client(client_id or new_client_id(), secret, redirect_uris)
        if known is not None and known != client:
            raise ClientConflictError("client_id is already registered with other settings")
        self._clients[client.client_id] = client
        return client

    def client(self, client_id: str) -> Client | None:
        return self._clients.get(client_id)

    def clients(self) -> list[dict[str, Any]]:
        return [c.public() for c in self._clients.values()]

    def authenticate_client(
        self, basic: tuple[str, str] | None, body_client_id: str | None
    ) -> Client:
        """The client making a token request: HTTP Basic for confidential clients (X's own SDK
        also repeats client_id in the body), client_id in the body for public ones."""
        if basic is not None:
            client_id, secret = basic
            client = self._clients.get(client_id)
            if client is None or (body_client_id and body_client_id != client_id):
                raise OAuth2Error("invalid_client", CLIENT_AUTH_FAILED, 401)
            expected = client.secret or ""  # a public client may send an empty password
            if not hmac.compare_digest(expected.encode(), secret.encode()):
                raise OAuth2Error("invalid_client", CLIENT_AUTH_FAILED, 401)
            return client
        if not body_client_id:
            raise missing("client_id")
        client = self._clients.get(body_client_id)
        if client is None:
            raise OAuth2Error("invalid_client", CLIENT_AUTH_FAILED, 401)
        if client.confidential:
            # What X answers a confidential client that forgot its Basic header.
            raise OAuth2Error("unauthorized_client", MISSING_AUTHORIZATION, 401)
        return client

    # Authorization codes

    def issue_code(
        self, grant: Grant, redirect_uri: str, challenge: str, method: str, now: float, ttl: int
    ) -> str:
        code = new_token("ac", now)
        self._codes[code] = _Code(grant, redirect_uri, challenge, method, now + ttl)
        return code

    def check(self, client: Client, params: dict[str, str], now: float) -> Redeemable:
        """Validate a token request for `client` without spending anything; OAuth2Error if bad."""
        grant_type = params.get("grant_type", "")
        if grant_type == "authorization_code":
            return self._check_code(client, params, now)
        if grant_type == "refresh_token":
            token = params.get("refresh_token")
            if not token:
                raise missing("refresh_token")
            grant = self._refresh.get(token)
            if grant is None or grant.client_id != client.client_id:
                raise OAuth2Error("invalid_request", INVALID_TOKEN)
            return Redeemable(grant, grant_type, token)
        raise OAuth2Error("unsupported_grant_type", "Grant type is not supported.")

    def _check_code(self, client: Client, params: dict[str, str], now: float) -> Redeemable:
        for name in ("code", "redirect_uri", "code_verifier"):
            if not params.get(name):
                raise missing(name)
        code = params["code"]
        entry = self._codes.get(code)
        if entry is None or entry.grant.client_id != client.client_id:
            raise OAuth2Error("invalid_request", INVALID_CODE)
        user_id = entry.grant.user.user_id
        if now >= entry.expires_at:
            del self._codes[code]
            raise OAuth2Error("invalid_request", INVALID_CODE, user_id=user_id)
        if params["redirect_uri"] != entry.redirect_uri:
            raise OAuth2Error("invalid_request", REDIRECT_MISMATCH, user_id=user_id)
        # A wrong verifier does not spend the code (X does not document either way): guessing a
        # verifier is hopeless, and a client that fixes its verifier can still finish in time.
        if not pkce_matches(params["code_verifier"], entry.challenge, entry.method):
            raise OAuth2Error("invalid_request", VERIFIER_MISMATCH, user_id=user_id)
        return Redeemable(entry.grant, "authorization_code", code)

    # Tokens

    def redeem(self, checked: Redeemable, now: float, ttl: int) -> dict[str, Any]:
        """Spend the code or refresh token `check` accepted and issue a new pair: X's token
        response (no refresh_token without offline.access)."""
        if checked.grant_type == "authorization_code":
            del self._codes[checked.credential]
        else:
            del self._refresh[checked.credential]
        self._sweep(now)
        grant = checked.grant
        access = new_token("at", now)
        self._access[access] = _Access(grant, now + ttl)
        body: dict[str, Any] = {
            "token_type": "bearer",
            "expires_in": ttl,
            "access_token": access,
            "scope": " ".join(grant.scopes),
        }
        if OFFLINE_ACCESS in grant.scopes:
            refresh = new_token("rt", now)
            self._refresh[refresh] = grant
            body["refresh_token"] = refresh
        return body

    def bearer(self, access_token: str, now: float) -> Grant | None:
        """The grant behind a live access token; None if unknown, revoked or expired."""
        entry = self._access.get(access_token)
        if entry is None or now >= entry.expires_at:
            return None
        return entry.grant

    def revoke_user(self, user_id: str) -> int:
        """The user revoked the app(s): drop their codes and tokens; return how many tokens."""
        access = [t for t, a in self._access.items() if a.grant.user.user_id == user_id]
        refresh = [t for t, g in self._refresh.items() if g.user.user_id == user_id]
        for token in access:
            del self._access[token]
        for token in refresh:
            del self._refresh[token]
        for code in [c for c, e in self._codes.items() if e.grant.user.user_id == user_id]:
            del self._codes[code]
        return len(access) + len(refresh)

    def _sweep(self, now: float) -> None:
        """Forget expired codes and access tokens once the tables have grown (a long run that
        refreshes often would otherwise keep every token it was ever given)."""
        if len(self._access) + len(self._codes) < self._sweep_at:
            return
        self._access = {t: a for t, a in self._access.items() if now < a.expires_at}
        self._codes = {c: e for c, e in self._codes.items() if now < e.expires_at}
        self._sweep_at = max(1024, 2 * (len(self._access) + len(self._codes)))

    def clear(self) -> None:
        self._clients.clear()
        self._codes.clear()
        self._access.clear()
        self._refresh.clear()
