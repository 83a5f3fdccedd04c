"""The X API v2 endpoints' pipeline: Manage Retweets and `GET /2/users/me`.

Each call goes through the same steps in a fixed order: an outage (5xx, perhaps after a hold,
before anything but reading the request), authenticate (401, never counted; an OAuth 2.0 token
without the endpoint's scopes is a 403 here too, as X's gateway refuses it before the endpoint),
app and account conditions (402, 429 usage cap, 403: the window is reported, not spent), count
against the rate windows (429), scripted or random faults (5xx, hangs), then the endpoint's own
checks (403, 400, 404, deleted tweets among them) and the state change. No step awaits between
checking and changing state. OAuth 1.0a signatures and OAuth 2.0 bearer tokens name the same
users, so conditions, windows, scripts, state and the call log do not care which one was used.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from fake_x import problems
from fake_x.ratelimit import DAY_S, Quota
from fake_x.state import Emulator
from fake_x.x_callers import authenticate_caller
from fake_x.x_endpoints import serve_endpoint, tweet_id_of
from fake_x.x_types import Answer, Caller, Reject

EMULATOR = web.AppKey("emulator", Emulator)


def _rate_headers(quota: Quota, prefix: str = "x-rate-limit") -> dict[str, str]:
    return {
        f"{prefix}-limit": str(quota.limit),
        f"{prefix}-remaining": str(quota.remaining),
        f"{prefix}-reset": str(quota.reset),
    }


def _int_or_none(value: str | None) -> int | None:
    return None if value is None else int(value)


def _count(
    emu: Emulator, user_id: str, action: str, *, spend: bool = True
) -> tuple[dict[str, str], bool]:
    """Count the call in its 15-minute bucket and, if configured, the 24-hour user limit; with
    `spend=False` only report them, for a call refused before the windows (a condition)."""
    config, now = emu.config, emu.clock.now()
    measure = emu.limiter.hit if spend else emu.limiter.peek
    quota = measure(user_id, action, emu.rate_limit_for(user_id), config.rate_window, now)
    headers = _rate_headers(quota)
    if quota.exceeded or config.user_limit_24h is None or action == "me":
        return headers, quota.exceeded
    daily = measure(user_id, "24h", config.user_limit_24h, DAY_S, now)
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
        caller = authenticate_caller(emu, request, body, action)
    except Reject as reject:
        return reject.answer, reject.caller
    refusing = emu.conditions.refusing(
        caller.consumer_key, caller.client_id, caller.user_id, action, emu.clock.now()
    )
    if refusing is not None:
        status, refusal, content_type = refusing.answer()
        headers, _ = _count(emu, caller.user_id, action, spend=False)
        return Answer(status, refusal, content_type, headers=headers), caller
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
    answer = serve_endpoint(emu, request, action, caller, body)
    answer.headers = headers
    return answer, caller


def _record(
    emu: Emulator,
    request: web.Request,
    action: str,
    tweet_id: str | None,
    answer: Answer,
    caller: Caller | None,
) -> None:
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


async def _handle(request: web.Request, action: str) -> web.Response:
    emu = request.app[EMULATOR]
    emu.in_flight += 1
    try:
        if emu.config.latency_ms:
            await asyncio.sleep(emu.config.latency_ms / 1000)
        body = await request.read()
        tweet_id = tweet_id_of(request, action, body)
        outage = emu.conditions.outage(emu.clock.now())
        if outage is None:
            answer, caller = await _serve(emu, request, action, body, tweet_id)
            _record(emu, request, action, tweet_id, answer, caller)
        else:
            status, down, content_type = outage.answer()
            answer = Answer(status, down, content_type)
            # Logged before the hold, as a token hang is: the outcome is decided whether or not
            # the client waits for it, and a test can wait on the log.
            _record(emu, request, action, tweet_id, answer, None)
            if outage.mode == "timeout":
                await emu.conditions.hold(outage)
    finally:
        emu.in_flight -= 1
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
