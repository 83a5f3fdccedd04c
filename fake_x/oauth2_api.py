"""The OAuth 2.0 HTTP endpoints: X's authorize page, auto-approved, and its token endpoint.

`GET /i/oauth2/authorize` stands in for the user's browser on x.com: it approves at once, as if
the user had clicked "Authorize app", and redirects to the client's redirect_uri with `state` and
`code`. Emulator-only query parameters: `x_user_id` picks the approving user (an existing OAuth
1.0a user, or a new id), otherwise a new user is registered as `POST /_emulator/accounts {}`
would; `x_deny=1` clicks "Cancel" instead (`error=access_denied`). What a redirect cannot carry
safely (unknown client, bad redirect_uri) and missing or malformed parameters get a 400 page, never
a redirect; an unknown scope goes back to the client as `error=invalid_scope`.

`POST /2/oauth2/token` exchanges a code or a refresh token (see oauth2.py for the rules). Every
call to either endpoint is in the call log, with no code, token, verifier or secret.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode, urlsplit, urlunsplit

from aiohttp import hdrs, web
from multidict import MultiMapping

from fake_x import oauth2_rules, problems
from fake_x.oauth2 import Grant, User
from fake_x.oauth2_rules import OAuth2Error
from fake_x.state import Emulator
from fake_x.x_api import EMULATOR

AUTHORIZE_PATH = "/i/oauth2/authorize"
TOKEN_PATH = "/2/oauth2/token"  # noqa: S105 - a route
FORM_TYPE = "application/x-www-form-urlencoded"
_ID = re.compile(r"[0-9]{1,19}")
_STATE_MAX = 500  # X documents state as "up to 500 characters"
_REQUIRED = ("response_type", "scope", "state", "code_challenge", "code_challenge_method")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 5.1


class _Page(Exception):
    """The authorize request is refused with a 400 page, not a redirect."""


def _page(description: str) -> web.Response:
    body = {"error": "invalid_request", "error_description": description}
    return web.Response(status=400, body=problems.dump(body), content_type=problems.JSON_TYPE)


def _optional(query: MultiMapping[str], name: str) -> str | None:
    """A single-valued query parameter; an empty value counts as missing."""
    values = query.getall(name, [])
    if len(values) > 1:
        raise _Page(f"Parameter [{name}] was given more than once.")
    return values[0] if values and values[0] else None


def _required(query: MultiMapping[str], name: str) -> str:
    value = _optional(query, name)
    if value is None:
        raise _Page(f"Missing required parameter [{name}].")
    return value


def _user_id_in(query: MultiMapping[str]) -> str | None:
    """`x_user_id` if it is a well-formed id (the call log keeps nothing else from a query)."""
    value = query.get("x_user_id")
    return value if value is not None and _ID.fullmatch(value) else None


def _redirect(uri: str, params: list[tuple[str, str]]) -> str:
    """`uri` with `params` appended to whatever query it already has."""
    parts = urlsplit(uri)
    extra = urlencode(params, quote_via=quote)
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def _valid_redirect(uri: str) -> bool:
    """Absolute, no fragment (RFC 6749 3.1.2); custom schemes are fine for native apps."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    if not parts.scheme or parts.fragment:
        return False
    return bool(parts.netloc) or parts.scheme not in ("http", "https")


def _approving_user(emu: Emulator, x_user_id: str | None) -> User:
    """The user who "clicks Authorize": known to the OAuth 1.0a registry either way, so the
    admin listing shows them and both kinds of credentials name the same person."""
    account = emu.accounts.by_user(x_user_id) if x_user_id else None
    if account is not None:
        return User(account.user_id, account.name, account.username)
    created = emu.accounts.generate(x_user_id)
    return User(created["user_id"], created["name"], created["username"])


def _approve(emu: Emulator, query: MultiMapping[str]) -> tuple[str, str | None]:
    """Check an authorize request; return where to redirect and the approving user, if any."""
    client = emu.oauth2.client(_required(query, "client_id"))
    if client is None:
        raise _Page("Unknown client_id: register it with POST /_emulator/oauth2/clients.")
    redirect_uri = _required(query, "redirect_uri")
    if not _valid_redirect(redirect_uri):
        raise _Page("redirect_uri must be an absolute URI without a fragment.")
    if client.redirect_uris and redirect_uri not in client.redirect_uris:
        raise _Page("redirect_uri does not match any callback URL registered for the client.")
    response_type, scope, state, challenge, method_name = (_required(query, n) for n in _REQUIRED)
    if response_type != "code":
        raise _Page("response_type must be code.")
    if len(state) > _STATE_MAX:
        raise _Page(f"state must be at most {_STATE_MAX} characters.")
    method = oauth2_rules.challenge_method(method_name)
    if method is None:
        raise _Page("code_challenge_method must be S256 or plain.")
    x_user_id = _optional(query, "x_user_id")
    if x_user_id is not None and not _ID.fullmatch(x_user_id):
        raise _Page("x_user_id must be 1 to 19 digits.")
    # From here on the client is trusted with the answer: errors travel in the redirect.
    scopes = tuple(dict.fromkeys(scope.split()))
    if not scopes or any(s not in oauth2_rules.SCOPES for s in scopes):
        return _redirect(redirect_uri, [("error", "invalid_scope"), ("state", state)]), x_user_id
    if (_optional(query, "x_deny") or "").lower() in ("1", "true", "yes"):
        return _redirect(redirect_uri, [("error", "access_denied"), ("state", state)]), x_user_id
    user = _approving_user(emu, x_user_id)
    grant = Grant(client.client_id, user, scopes)
    now, ttl = emu.clock.now(), emu.config.oauth2_code_ttl
    code = emu.oauth2.issue_code(grant, redirect_uri, challenge, method, now, ttl)
    return _redirect(redirect_uri, [("state", state), ("code", code)]), user.user_id


async def authorize(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    try:
        location, user_id = _approve(emu, request.query)
        response = web.Response(status=302, headers={hdrs.LOCATION: location})
    except _Page as page:
        response, user_id = _page(str(page)), _user_id_in(request.query)
    _record(emu, request, "authorize", response.status, user_id)
    return response


@dataclass(slots=True)
class _TokenAnswer:
    status: int
    body: bytes
    user_id: str | None = None
    grant_type: str | None = None
    hang: float = 0.0
    content_type: str = problems.JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def _form(request: web.Request, body: bytes) -> dict[str, str]:
    """The form parameters; a parameter given twice is an error (RFC 6749 3.2)."""
    if request.content_type != FORM_TYPE:
        raise OAuth2Error("invalid_request", f"Content-Type must be {FORM_TYPE}.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise OAuth2Error("invalid_request", "The request body is not UTF-8.") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise OAuth2Error("invalid_request", f"Parameter [{name}] was given more than once.")
        params[name] = value
    return params


def _basic(emu: Emulator, authorization: str | None) -> tuple[str, str] | None:
    """HTTP Basic client credentials, if sent. RFC 6749 form-encodes them before base64 but
    many clients do not, so the raw pair wins when it names a known client."""
    if authorization is None:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuth2Error("unauthorized_client", oauth2_rules.MISSING_AUTHORIZATION, 401) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuth2Error("unauthorized_client", oauth2_rules.MISSING_AUTHORIZATION, 401)
    if emu.oauth2.client(client_id) is None:
        return unquote_plus(client_id), unquote_plus(secret)
    return client_id, secret


def _scripted_error(status: int, grant_type: str) -> tuple[bytes, str]:
    """A scripted failure at the token endpoint: OAuth JSON for 400 (the code or refresh token
    was refused) and 401 (the client was), X's usual problem body for anything else."""
    if status in (400, 401):
        if status == 401:
            error = OAuth2Error("invalid_client", oauth2_rules.CLIENT_AUTH_FAILED, 401)
        elif grant_type == "authorization_code":
            error = OAuth2Error("invalid_request", oauth2_rules.INVALID_CODE)
        else:
            error = OAuth2Error("invalid_request", oauth2_rules.INVALID_TOKEN)
        return problems.dump(error.body()), problems.JSON_TYPE
    return problems.canonical(status)


def _exchange(emu: Emulator, request: web.Request, body: bytes) -> _TokenAnswer:
    """Run one token request: parse, authenticate the client, check, script, spend and issue."""
    grant_type: str | None = None
    user_id: str | None = None
    basic_sent = False
    try:
        params = _form(request, body)
        requested = params.get("grant_type")
        if not requested:
            raise oauth2_rules.missing("grant_type")
        if requested not in oauth2_rules.GRANT_TYPES:
            # The value is the client's, and could be anything: it stays out of the call log.
            raise OAuth2Error("unsupported_grant_type", "Grant type is not supported.")
        grant_type = requested
        basic = _basic(emu, request.headers.get(hdrs.AUTHORIZATION))
        basic_sent = basic is not None
        client = emu.oauth2.authenticate_client(basic, params.get("client_id"))
        now = emu.clock.now()
        checked = emu.oauth2.check(client, params, now)
        user_id = checked.grant.user.user_id
        forced = emu.script.take(user_id, None, "token")
        hang = forced.hang_seconds if forced else 0.0
        if forced is not None and forced.status != 200:
            error_body, content_type = _scripted_error(forced.status, grant_type)
            return _TokenAnswer(
                forced.status, error_body, user_id, grant_type, hang, content_type, dict(_NO_STORE)
            )
        tokens = emu.oauth2.redeem(checked, now, emu.config.oauth2_access_ttl)
        return _TokenAnswer(
            200, problems.dump(tokens), user_id, grant_type, hang, headers=dict(_NO_STORE)
        )
    except OAuth2Error as exc:
        headers = dict(_NO_STORE)
        if exc.status == 401 and basic_sent:
            headers[hdrs.WWW_AUTHENTICATE] = 'Basic realm="X"'
        return _TokenAnswer(
            exc.status,
            problems.dump(exc.body()),
            exc.user_id or user_id,
            grant_type,
            headers=headers,
        )


async def token(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    emu.in_flight += 1
    try:
        if emu.config.latency_ms:
            await asyncio.sleep(emu.config.latency_ms / 1000)
        answer = _exchange(emu, request, await request.read())
        # Logged before a scripted hang: the outcome is decided (a pair issued, a token spent)
        # whether or not the client is still there to read it, and a test can wait on the log.
        _record(emu, request, "token", answer.status, answer.user_id, answer.grant_type)
        if answer.hang:
            await asyncio.sleep(answer.hang)
    finally:
        emu.in_flight -= 1
    return web.Response(
        status=answer.status,
        body=answer.body,
        content_type=answer.content_type,
        headers=answer.headers,
    )


def _record(
    emu: Emulator,
    request: web.Request,
    action: str,
    status: int,
    user_id: str | None,
    grant_type: str | None = None,
) -> None:
    emu.calls.record(
        time=emu.clock.now(),
        method=request.method,
        path=request.path,  # never the query: it holds the state and the code challenge
        action=action,
        user_id=user_id,
        tweet_id=None,
        status=status,
        changed=False,
        rate_remaining=None,
        grant_type=grant_type,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get(AUTHORIZE_PATH, authorize, allow_head=False)
    app.router.add_post(TOKEN_PATH, token)
