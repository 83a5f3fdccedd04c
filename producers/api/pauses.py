"""Pauses, as `rtq pause` / `rtq resume` / `rtq pause --list` have them: everything (no
parameter), one account (`account`) or one tweet across accounts (`tweet`), through the same
domain calls (worker/domain/pauses.py: `scope_of`, `Pauses`)."""

from __future__ import annotations

from aiohttp import web

from producers.api.base import Problem, Route, api, in_thread, not_found, query_text, record
from producers.api.schema import (
    ID,
    json_response,
    obj,
    problem_response,
    query,
    ref,
)
from worker.domain.pauses import ScopeError, UnknownAccount, scope_of


def _scope(request: web.Request) -> str:
    try:
        return scope_of(query_text(request, "account"), query_text(request, "tweet"))
    except ScopeError as exc:
        names = " and ".join(exc.fields)
        raise Problem(400, "Invalid Request", f"{names}: {exc.reason}",
                      errors=[{"field": name, "reason": exc.reason}
                              for name in exc.fields]) from None


async def list_pauses(request: web.Request) -> web.Response:
    found = await in_thread(api(request).pauses.list)
    return web.json_response({"pauses": [item.as_dict() for item in found]})


async def pause(request: web.Request) -> web.Response:
    scope = _scope(request)
    try:
        started = await in_thread(api(request).pauses.pause, scope)
    except UnknownAccount as exc:
        raise not_found("account", exc.reason) from None
    if started:
        await in_thread(record, request, "pause", scope)
    return web.json_response({"scope": scope, "started": started})


async def resume(request: web.Request) -> web.Response:
    scope = _scope(request)
    released = await in_thread(api(request).pauses.resume, scope)
    if released is None:
        raise Problem(409, "Not Paused", f"scope: {scope} is not paused (GET /v1/pauses lists "
                      "the pauses)", errors=[{"field": "scope", "reason": "not paused"}])
    await in_thread(record, request, "resume", scope, released)
    return web.json_response({"scope": scope, "released": released})


_SCOPE = [
    query("account", ID, "Only this account's jobs."),
    query("tweet", {"type": "string", "example": "20", "maxLength": 200,
                    "description": "A tweet id, or its URL."},
          "Only the jobs for this tweet, whatever the account."),
]
_BAD_SCOPE = problem_response("Both `account` and `tweet`, or one is not an id; `errors` "
                              "names it.")
_SCOPED = {"type": "string", "example": "account:7588892",
           "description": "`all`, `account:ID` or `tweet:ID`."}

ROUTES = (
    Route("GET", "/v1/pauses", list_pauses, {
        "summary": "The pauses in force, since when, and how many jobs each holds "
                   "(`rtq pause --list`)",
        "tags": ["pauses"],
        "responses": {"200": json_response("The pauses.", obj(["pauses"], {
            "pauses": {"type": "array", "items": ref("Pause")}}))},
    }),
    Route("POST", "/v1/pause", pause, {
        "summary": "Pause work: everything (no parameter), one account, or one tweet "
                   "(`rtq pause`). Every worker holds the jobs it is given: no call, no "
                   "attempt, no dead letter; a job already running finishes",
        "tags": ["pauses"],
        "parameters": _SCOPE,
        "responses": {
            "200": json_response("Paused (`started` is false if it was paused already).",
                                 obj(["scope", "started"], {"scope": _SCOPED,
                                                            "started": {"type": "boolean"}})),
            "400": _BAD_SCOPE,
            "404": problem_response("rtq knows no such account (a typo would leave the "
                                    "account meant running)."),
        },
    }),
    Route("POST", "/v1/resume", resume, {
        "summary": "End the pause of a scope (`rtq resume`): its held jobs go back to the "
                   "queue in the order they came, each account with its fair share",
        "tags": ["pauses"],
        "parameters": _SCOPE,
        "responses": {
            "200": json_response("Resumed: how many held jobs went back to the queue.",
                                 obj(["scope", "released"], {"scope": _SCOPED,
                                                             "released": {"type": "integer"}})),
            "400": _BAD_SCOPE,
            "409": problem_response("That scope is not paused."),
        },
    }),
)
