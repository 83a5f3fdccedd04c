"""The X API v2 endpoints: Manage Retweets and `GET /2/users/me`.

Each call goes through the same steps in a fixed order: authenticate (401, never counted), count
against the rate windows (429), scripted or random faults (5xx, hangs), then the endpoint's own
checks (403, 400, 404) and the state change. No step awaits between checking and changing state.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import hdrs, web

from worker.fake_x import problems
from worker.fake_x.accounts import Account
from worker.fake_x.auth import AuthenticationError, SignedRequest, authenticate
from worker.fake_x.ratelimit import DAY_S, Quota
from worker.fake_x.state import Emulator

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


class _Reject(Exception):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer


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


def _check_write_access(emu: Emulator, account: Account, path_id: str) -> None:
    if account.consumer_key in emu.config.read_only_consumers:
        raise _Reject(Answer(403, problems.OAUTH1_PERMISSIONS))
    if not _ID.fullmatch(path_id):
        raise _Reject(Answer(400, problems.invalid_parameter("id", path_id)))
    if path_id != account.user_id:
        detail = (
            f"The id in the path ({path_id}) is not the authenticated user "
            f"({account.user_id}): you can only manage your own Retweets."
        )
        raise _Reject(Answer(403, problems.generic(403, detail)))


def _retweet(emu: Emulator, account: Account, path_id: str, body: bytes) -> Answer:
    _check_write_access(emu, account, path_id)
    tweet_id = _body_tweet_id(body)
    config = emu.config
    if tweet_id in config.missing_tweets:
        return Answer(404, problems.tweet_not_found(tweet_id))
    if tweet_id in config.protected_tweets:
        detail = "You cannot Retweet this Tweet: its author protects their Tweets."
        return Answer(403, problems.generic(403, detail))
    if emu.retweets.is_retweeted(account.user_id, tweet_id):
        if config.already_retweeted == "403":
            return Answer(403, problems.generic(403, problems.ALREADY_RETWEETED))
        if config.already_retweeted == "legacy327":
            return Answer(403, problems.LEGACY_327, problems.JSON_TYPE)
        return _ok(problems.RETWEETED)
    return _ok(problems.RETWEETED, emu.retweets.set(account.user_id, tweet_id, True))


def _undo(emu: Emulator, account: Account, path_id: str, tweet_id: str) -> Answer:
    _check_write_access(emu, account, path_id)
    if not _ID.fullmatch(tweet_id):
        raise _Reject(Answer(400, problems.invalid_parameter("source_tweet_id", tweet_id)))
    if tweet_id in emu.config.missing_tweets:
        return Answer(404, problems.tweet_not_found(tweet_id))
    # Idempotent, as documented: undoing a retweet that does not exist is a quiet success.
    return _ok(problems.NOT_RETWEETED, emu.retweets.set(account.user_id, tweet_id, False))


def _me(account: Account) -> Answer:
    data = {"id": account.user_id, "name": account.name, "username": account.username}
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


def _fault(emu: Emulator, account: Account, tweet_id: str | None, action: str) -> tuple[int, float]:
    """(status, hang seconds) forced by the script or drawn from the configured fault rates."""
    forced = emu.script.take(account.user_id, tweet_id, action)
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
) -> tuple[Answer, Account | None]:
    """Run one call through the pipeline; return the answer and who made the call."""
    try:
        account = authenticate(
            _signed(request, body), emu.accounts, emu.nonces, emu.config.timestamp_tolerance
        )
    except AuthenticationError:
        return Answer(401, problems.UNAUTHORIZED), None
    headers, exceeded = _count(emu, account.user_id, action)
    if exceeded:
        return Answer(429, problems.TOO_MANY_REQUESTS, headers=headers), account
    status, hang = _fault(emu, account, tweet_id, action)
    if hang:
        await asyncio.sleep(hang)  # holds this request only; the loop keeps serving others
    if status == 429:
        headers["x-rate-limit-remaining"] = "0"
    if status != 200:
        body_bytes, content_type = problems.canonical(status, tweet_id)
        return Answer(status, body_bytes, content_type, headers=headers), account
    path_id = request.match_info.get("id", "")
    try:
        if action == "retweet":
            answer = _retweet(emu, account, path_id, body)
        elif action == "undo":
            answer = _undo(emu, account, path_id, tweet_id or "")
        else:
            answer = _me(account)
    except _Reject as reject:
        answer = reject.answer
    answer.headers = headers
    return answer, account


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
        answer, account = await _serve(emu, request, action, body, tweet_id)
    finally:
        emu.in_flight -= 1
    emu.calls.record(
        time=emu.clock.now(),
        method=request.method,
        path=request.path,
        action=action,
        # Unauthenticated calls are filed under the user id they addressed, if any.
        user_id=account.user_id if account else request.match_info.get("id"),
        tweet_id=tweet_id,
        status=answer.status,
        changed=answer.changed,
        rate_remaining=_int_or_none(answer.headers.get("x-rate-limit-remaining")),
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
