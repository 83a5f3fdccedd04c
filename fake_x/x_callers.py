"""Who is making an X API call: an OAuth 2.0 bearer token or an OAuth 1.0a signature, checked.

Both kinds of credentials name the same users, so everything after this step (conditions,
windows, scripts, state, the call log) works on a `Caller` and does not care how it authenticated.
"""

from __future__ import annotations

from aiohttp import hdrs, web

from fake_x import problems
from fake_x.auth import AuthenticationError, SignedRequest, authenticate
from fake_x.state import Emulator
from fake_x.x_types import Answer, Caller, Reject


def _signed(request: web.Request, body: bytes) -> SignedRequest:
    path, _, query = request.raw_path.partition("?")
    form = None
    if request.content_type == "application/x-www-form-urlencoded":
        form = body.decode("utf-8", "replace")
    return SignedRequest(
        method=request.method,
        scheme=request.scheme,
        host=request.headers.get(hdrs.HOST) or request.host,
        path=path,
        query=query,
        authorization=request.headers.get(hdrs.AUTHORIZATION),
        form_body=form,
    )


def _bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer` header (maybe empty); None for other schemes."""
    if authorization is None:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def authenticate_caller(emu: Emulator, request: web.Request, body: bytes, action: str) -> Caller:
    """The caller, from an OAuth 2.0 bearer token or an OAuth 1.0a signature; Reject if not."""
    token = _bearer_token(request.headers.get(hdrs.AUTHORIZATION))
    if token is not None:
        grant = emu.oauth2.bearer(token, emu.clock.now())
        if grant is None:  # unknown, expired or revoked: X does not say which
            raise Reject(Answer(401, problems.UNAUTHORIZED))
        user = grant.user
        caller = Caller(
            user.user_id, user.name, user.username, "oauth2", client_id=grant.client_id
        )
        if not grant.allows(action):
            raise Reject(Answer(403, problems.FORBIDDEN), caller)
        return caller
    try:
        account = authenticate(
            _signed(request, body), emu.accounts, emu.nonces, emu.config.timestamp_tolerance
        )
    except AuthenticationError:
        raise Reject(Answer(401, problems.UNAUTHORIZED)) from None
    return Caller(account.user_id, account.name, account.username, "oauth1", account.consumer_key)
