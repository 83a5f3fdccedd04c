"""Authenticating an X API request: OAuth 1.0a user context, checked the way X checks it.

Every failure is the same 401 to the client (X does not say why); the reason is kept for the
emulator's own diagnostics and never includes the signature or secrets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fake_x import oauth1
from fake_x.accounts import Account, AccountRegistry
from fake_x.nonces import NonceCache

_REQUIRED = (
    "oauth_consumer_key",
    "oauth_token",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
)


class AuthenticationError(Exception):
    """The request did not authenticate; `reason` is a short, secret-free explanation."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """The parts of an HTTP request that the signature covers, as the client addressed it."""

    method: str
    scheme: str
    host: str  # the Host header: the client signed the URL it used, not our bind address
    path: str  # raw (still percent-encoded) path, without the query
    query: str  # raw query string
    authorization: str | None
    form_body: str | None  # only for application/x-www-form-urlencoded bodies


def authenticate(
    request: SignedRequest,
    accounts: AccountRegistry,
    nonces: NonceCache,
    tolerance_s: float,
) -> Account:
    """Return the account the request is signed for, or raise AuthenticationError."""
    try:
        params = oauth1.parse_authorization_header(request.authorization)
    except oauth1.OAuthHeaderError as exc:
        raise AuthenticationError(str(exc)) from None
    missing = [name for name in _REQUIRED if name not in params]
    if missing:
        raise AuthenticationError(f"missing {', '.join(missing)}")
    if params["oauth_signature_method"] != oauth1.SIGNATURE_METHOD:
        raise AuthenticationError("unsupported signature method")
    if params.get("oauth_version", "1.0") != "1.0":
        raise AuthenticationError("unsupported oauth_version")

    consumer_key, token = params["oauth_consumer_key"], params["oauth_token"]
    consumer_secret = accounts.consumer_secret(consumer_key)
    if consumer_secret is None:
        raise AuthenticationError("unknown consumer key")
    account = accounts.by_token(token)
    if account is None:
        raise AuthenticationError("unknown or revoked access token")
    if account.consumer_key != consumer_key:
        raise AuthenticationError("access token belongs to another consumer")

    try:
        timestamp = int(params["oauth_timestamp"])
    except ValueError:
        raise AuthenticationError("oauth_timestamp is not an integer") from None
    if abs(time.time() - timestamp) > tolerance_s:
        raise AuthenticationError("oauth_timestamp is too far from the server's clock")

    uri = oauth1.base_string_uri(request.scheme, request.host, request.path)
    signed = oauth1.request_parameters(params, request.query, request.form_body)
    base_string = oauth1.signature_base_string(request.method, uri, signed)
    expected = oauth1.hmac_sha1_signature(base_string, consumer_secret, account.access_token_secret)
    if not oauth1.signatures_match(expected, params["oauth_signature"]):
        raise AuthenticationError("signature does not match")
    # Only a correctly signed request uses up its nonce: otherwise a forger could burn nonces.
    if not nonces.check_and_remember(consumer_key, token, params["oauth_nonce"], tolerance_s):
        raise AuthenticationError("nonce already used")
    return account
