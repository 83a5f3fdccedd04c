"""The rules of X's OAuth 2.0 (Authorization Code with PKCE): scopes, PKCE, token shapes, errors.

What a request must name and what X says when it does not: the scopes X's authorize page accepts
and the ones each endpoint needs, the PKCE check, and the refusals, in X's own words where they
are known. Tokens are opaque and shaped like X's (base64url of `<random>:<ms>:1:1:<kind>:1`):
unlike OAuth 1.0a access tokens they do not carry the user id, so a client has to ask
`GET /2/users/me`. Nothing here keeps state: oauth2.py holds the clients, codes and tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string

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


def missing(name: str) -> OAuth2Error:
    return OAuth2Error("invalid_request", f"Missing required parameter [{name}].")


def random_string(length: int) -> str:
    return "".join(secrets.choice(_URLSAFE) for _ in range(length))


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def new_token(kind: str, now: float) -> str:
    """An opaque value shaped like X's: `ac` codes, `at` access and `rt` refresh tokens."""
    return _b64(f"{random_string(45)}:{int(now * 1000)}:1:1:{kind}:1")


def new_client_id() -> str:
    return _b64(f"{random_string(21)}:1:ci")


def pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    """RFC 7636: S256 compares base64url(sha256(verifier)) without padding; plain, the verifier."""
    if method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        verifier = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(verifier.encode(), challenge.encode())


def challenge_method(value: str) -> str | None:
    """The canonical method name, or None. X's own SDK sends `s256`, so case does not matter."""
    return next((m for m in CHALLENGE_METHODS if m.lower() == value.lower()), None)
