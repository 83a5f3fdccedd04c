"""The X API v2 endpoints: Manage Retweets and `GET /2/users/me`.

Each call goes through the same steps in a fixed order: authenticate (401, never counted; an
OAuth 2.0 token without the endpoint's scopes is a 403 here too, as X's gateway refuses it before
the endpoint), count against the rate windows (429), scripted or random faults (5xx, hangs), then
the endpoint's own checks (403, 400, 404) and the state change. No step awaits between checking
and changing state. OAuth 1.0a signatures and OAuth 2.0 bearer tokens name the same users, so
windows, scripts, state and the call log do not care which one a client used.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import hdrs, web

from fake_x import problems
from fake_x.auth import AuthenticationError, SignedRequest, authenticate
from fake_x.ratelimit import DAY_S, Quota
from fake_x.state import Emulator

EMULATOR = web.AppKey("emulator", Emulator)
_ID = re.compile(r"[0-9]{1,19}")  # ASCII only: str.isdigit() would accept other scripts' digits
_JSON_KINDS = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes
    content_type: str = problems.PROBLEM_TYPE
    changed: bool = False
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made an X API call, whichever way they authenticated."""

    user_id: str
    name: str
    username: str
    auth: str  # "oauth1" | "oauth2"
    consumer_key: str | None = None  # OAuth 1.0a: the app, which may be read-only


class _Reject(Exception):
    def __init__(self, answer: Answer, caller: Caller | None = None) -> None:
        self.answer = answer
        self.caller = caller


def _ok(body: bytes, changed: bool = False) -> Answer:
    return Answer(200, body, problems.JSON_TYPE, changed)


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


def _peek_tweet_id(body: bytes) -> str | None:
    """The tweet id a retweet body names, if any: scripts and the call log match on it."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    value = data.get("tweet_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _body_tweet_id(body: bytes) -> str:
    """Validate the retweet body against X's schema: exactly `{"tweet_id": "<digits>"}`."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        message = "Request body is not valid JSON"
        raise _Reject(Answer(400, problems.invalid_request(message))) from None
    if not isinstance(data, dict):
        kind = _JSON_KINDS.get(type(data), "value")
        raise _Reject(Answer(400, problems.invalid_request(f"$: {kind} found, object expected")))
    for key in data:
        if key != "tweet_id":
            message = (
                f"$.{key}: is not defined in the schema and the schema does not allow "
                "additional properties"
            )
            raise _Reject(Answer(400, problems.invalid_request(message)))
    if "tweet_id" not in data:
        message = "$.tweet_id: is missing but it is required"
        raise _Reject(Answer(400, problems.invalid_request(message)))
    value = data["tweet_id"]
    if not isinstance(value, str):
        kind = _JSON_KINDS.get(type(value), "value")
        message = f"$.tweet_id: {kind} found, string expected"
        raise _Reject(Answer(400, problems.invalid_request(message)))
    if not _ID.fullmatch(value):
        raise _Reject(Answer(400, problems.invalid_parameter("tweet_id", value)))
    return value


def _bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer` header (maybe empty); None for other schemes."""
    if authorization is None:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _authenticate(emu: Emulator, request: web.Request, body: bytes, action: str) -> Caller:
    """The caller, from an OAuth 2.0 bearer token or an OAuth 1.0a signature; _Reject if not."""
    token = _bearer_token(request.headers.get(hdrs.AUTHORIZATION))
    if token is not None:
        grant = emu.oauth2.bearer(token, emu.clock.now())
        if grant is None:  # unknown, expired or revoked: X does not say which
            raise _Reject(Answer(401, problems.UNAUTHORIZED))
        user = grant.user
        caller = Caller(user.user_id, user.name, user.username, "oauth2")
        if not grant.allows(action):
            raise _Reject(Answer(403, problems.FORBIDDEN), caller)
        return caller
    try:
        account = authenticate(
            _signed(request, body), emu.accounts, emu.nonces, emu.config.timestamp_tolerance
        )
    except AuthenticationError:
        raise _Reject(Answer(401, problems.UNAUTHORIZED)) from None
    return Caller(account.user_id, account.name, account.username, "oauth1", account.consumer_key)


def _check_write_access(emu: Emulator, caller: Caller, path_id: str) -> None:
    if caller.consumer_key is not None and caller.consumer_key in emu.config.read_only_consumers:
        raise _Reject(Answer(403, problems.OAUTH1_PERMISSIONS))
    if not _ID.fullmatch(path_id):
        raise _Reject(Answer(400, problems.invalid_parameter("id", path_id)))
    if path_id != caller.user_id:
        detail = (
            f"The id in the path ({path_id}) is not the authenticated user "
            f"({caller.user_id}): you can only manage your own Retweets."
        )
        raise _Reject(Answer(403, problems.generic(403, detail)))


def _retweet(emu: Emulator, caller: Caller, path_id: str, body: bytes) -> Answer:
    _check_write_access(emu, caller, path_id)
    tweet_id = _body_tweet_id(body)
    config = emu.config
    if tweet_id in config.missing_tweets:
        return Answer(404, problems.tweet_not_found(tweet_id))
    if tweet_id in config.protected_tweets:
        detail = "You cannot Retweet this Tweet: its author protects their Tweets."
        return Answer(403, problems.generic(403, detail))
    if emu.retweets.is_retweeted(caller.user_id, tweet_id):
        if config.already_retweeted == "403":
            return Answer(403, problems.generic(403, problems.ALREADY_RETWEETED))
        if config.already_retweeted == "legacy327":
            return Answer(403, problems.LEGACY_327, problems.JSON_TYPE)
        return _ok(problems.RETWEETED)
    return _ok(problems.RETWEETED, emu.retweets.set(caller.user_id, tweet_id, True))


def _undo(emu: Emulator, caller: Caller, path_id: str, tweet_id: str) -> Answer:
    _check_write_access(emu, caller, path_id)
    if not _ID.fullmatch(tweet_id):
        raise _Reject(Answer(400, problems.invalid_parameter("source_tweet_id", tweet_id)))
    if tweet_id in emu.config.missing_tweets:
        return Answer(404, problems.tweet_not_found(tweet_id))
    # Idempotent, as documented: undoing a retweet that does not exist is a quiet success.
    return _ok(problems.NOT_RETWEETED, emu.retweets.set(caller.user_id, tweet_id, False))


def _me(caller: Caller) -> Answer:
    data = {"id": caller.user_id, "name": caller.name, "username": caller.username}
    return _ok(problems.dump({"data": data}))


def _rate_headers(quota: Quota, prefix: str = "x-rate-limit") -> dict[str, str]:
    return {
        f"{prefix}-limit": str(quota.limit),
        f"{prefix}-remaining": str(quota.remaining),
        f"{prefix}-reset": str(quota.reset),
    }


def _int_or_none(value: str | None) -> int | None:
    return None if value is None else int(value)


def _count(emu: Emulator, user_id: str, action: str) -> tuple[dict[str, str], bool]:
    """Count the call in its 15-minute bucket and, if configured, the 24-hour user limit."""
    config, now = emu.config, emu.clock.now()
    quota = emu.limiter.hit(user_id, action, emu.rate_limit_for(user_id), config.rate_window, now)
    headers = _rate_headers(quota)
    if quota.exceeded or config.user_limit_24h is None or action == "me":
        return headers, quota.exceeded
    daily = emu.limiter.hit(user_id, "24h", config.user_limit_24h, DAY_S, now)
    headers.update(_rate_headers(daily, "x-user-limit-24hour"))
    return headers, daily.exceeded


def _fault(emu: Emulator, caller: Caller, tweet_id: str | None, action: str) -> tuple[int, float]:
    """(status, hang seconds) forced by the script or drawn from the configured fault rates."""
    forced = emu.script.take(caller.user_id, tweet_id, action)
    if forced is not None:
        return forced.status, forced.hang_seconds
    config, rng = emu.config, emu.rng
    # Draw only for enabled faults: with the same seed and config, the same calls fail.
    status = 200
    if config.server_error_rate and rng.random() < config.server_error_rate:
        status = config.server_error_status
    hang = 0.0
    if config.hang_rate and rng.random() < config.hang_rate:
        hang = config.hang_seconds
    return status, hang


async def _serve(
    emu: Emulator, request: web.Request, action: str, body: bytes, tweet_id: str | None
) -> tuple[Answer, Caller | None]:
    """Run one call through the pipeline; return the answer and who made the call."""
    try:
        caller = _authenticate(emu, request, body, action)
    except _Reject as reject:
        return reject.answer, reject.caller
    headers, exceeded = _count(emu, caller.user_id, action)
    if exceeded:
        return Answer(429, problems.TOO_MANY_REQUESTS, headers=headers), caller
    status, hang = _fault(emu, caller, tweet_id, action)
    if hang:
        await asyncio.sleep(hang)  # holds this request only; the loop keeps serving others
    if status == 429:
        headers["x-rate-limit-remaining"] = "0"
    if status != 200:
        body_bytes, content_type = problems.canonical(status, tweet_id)
        return Answer(status, body_bytes, content_type, headers=headers), caller
    path_id = request.match_info.get("id", "")
    try:
        if action == "retweet":
            answer = _retweet(emu, caller, path_id, body)
        elif action == "undo":
            answer = _undo(emu, caller, path_id, tweet_id or "")
        else:
            answer = _me(caller)
    except _Reject as reject:
        answer = reject.answer
    answer.headers = headers
    return answer, caller


def _tweet_id_of(request: web.Request, action: str, body: bytes) -> str | None:
    if action == "undo":
        return request.match_info.get("tweet_id")
    return _peek_tweet_id(body) if action == "retweet" else None


async def _handle(request: web.Request, action: str) -> web.Response:
    emu = request.app[EMULATOR]
    emu.in_flight += 1
    try:
        if emu.config.latency_ms:
            await asyncio.sleep(emu.config.latency_ms / 1000)
        body = await request.read()
        tweet_id = _tweet_id_of(request, action, body)
        answer, caller = await _serve(emu, request, action, body, tweet_id)
    finally:
        emu.in_flight -= 1
    emu.calls.record(
        time=emu.clock.now(),
        method=request.method,
        path=request.path,
        action=action,
        # Unauthenticated calls are filed under the user id they addressed, if any.
        user_id=caller.user_id if caller else request.match_info.get("id"),
        tweet_id=tweet_id,
        status=answer.status,
        changed=answer.changed,
        rate_remaining=_int_or_none(answer.headers.get("x-rate-limit-remaining")),
        auth=caller.auth if caller else None,
    )
    return web.Response(
        status=answer.status,
        body=answer.body,
        content_type=answer.content_type,
        headers=answer.headers,
    )


async def retweet(request: web.Request) -> web.Response:
    return await _handle(request, "retweet")


async def undo(request: web.Request) -> web.Response:
    return await _handle(request, "undo")


async def users_me(request: web.Request) -> web.Response:
    return await _handle(request, "me")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/2/users/{id}/retweets", retweet)
    app.router.add_delete("/2/users/{id}/retweets/{tweet_id}", undo)
    app.router.add_get("/2/users/me", users_me)
