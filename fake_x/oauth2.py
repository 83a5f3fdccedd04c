"""OAuth 2.0 Authorization Code with PKCE (user context): clients, codes and tokens, as X runs it.

The rules X applies and rtq must live with: an authorization code is single use and short-lived;
an access token expires (two hours by default); a refresh token is issued only with the
`offline.access` scope and is single use: each refresh returns a new pair and kills the old
refresh token, while the old access token lives out its lifetime. A client that loses the new
pair (crash, timeout) has lost the account until the user authorizes again, which is why the
emulator makes that easy to provoke. Error descriptions are X's own words where they are known.

Tokens are opaque and shaped like X's (base64url of `<random>:<ms>:1:1:<kind>:1`): unlike OAuth
1.0a access tokens they do not carry the user id, so a client has to ask `GET /2/users/me`.

No method here awaits, so checking a code or refresh token and spending it cannot interleave
with another request: two concurrent refreshes with one token get one pair and one refusal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass
from typing import Any

# Every scope X's authorize page accepts (docs.x.com, "Scopes").
SCOPES = frozenset(
    {
        "tweet.read",
        "tweet.write",
        "tweet.moderate.write",
        "users.email",
        "users.read",
        "follows.read",
        "follows.write",
        "offline.access",
        "space.read",
        "mute.read",
        "mute.write",
        "like.read",
        "like.write",
        "list.read",
        "list.write",
        "block.read",
        "block.write",
        "bookmark.read",
        "bookmark.write",
        "dm.read",
        "dm.write",
        "media.write",
    }
)
OFFLINE_ACCESS = "offline.access"
_WRITE = frozenset({"tweet.read", "tweet.write", "users.read"})
# X's authentication mapping: users/me needs tweet.read too, not just users.read.
REQUIRED_SCOPES: dict[str, frozenset[str]] = {
    "retweet": _WRITE,
    "undo": _WRITE,
    "me": frozenset({"tweet.read", "users.read"}),
}
GRANT_TYPES = ("authorization_code", "refresh_token")
CHALLENGE_METHODS = ("S256", "plain")

_URLSAFE = string.ascii_letters + string.digits + "-_"
INVALID_CODE = "Value passed for the authorization code was invalid."
INVALID_TOKEN = "Value passed for the token was invalid."  # noqa: S105 - a message
VERIFIER_MISMATCH = "Value passed for the code verifier did not match the code challenge."
REDIRECT_MISMATCH = (
    "Value passed for the redirect uri did not match the uri of the authorization code."
)
MISSING_AUTHORIZATION = "Missing valid authorization header"
CLIENT_AUTH_FAILED = "Client authentication failed."


class OAuth2Error(Exception):
    """A token request was refused: `error` and `description` are the OAuth JSON body; the user
    the request concerned, if known, goes to the call log."""

    def __init__(
        self, error: str, description: str, status: int = 400, user_id: str | None = None
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.user_id = user_id

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class ClientConflictError(ValueError):
    """The client id is already registered with another secret or type."""


def missing(name: str) -> OAuth2Error:
    return OAuth2Error("invalid_request", f"Missing required parameter [{name}].")


def _random(length: int) -> str:
    return "".join(secrets.choice(_URLSAFE) for _ in range(length))


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def new_token(kind: str, now: float) -> str:
    """An opaque value shaped like X's: `ac` codes, `at` access and `rt` refresh tokens."""
    return _b64(f"{_random(45)}:{int(now * 1000)}:1:1:{kind}:1")


def new_client_id() -> str:
    return _b64(f"{_random(21)}:1:ci")


def pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    """RFC 7636: S256 compares base64url(sha256(verifier)) without padding; plain, the verifier."""
    if method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        verifier = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(verifier.encode(), challenge.encode())


def challenge_method(value: str) -> str | None:
    """The canonical method name, or None. X's own SDK sends `s256`, so case does not matter."""
    return next((m for m in CHALLENGE_METHODS if m.lower() == value.lower()), None)


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
            secret = _random(50)
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
