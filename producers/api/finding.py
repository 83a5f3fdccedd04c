"""Finding jobs, as `rtq jobs` and `rtq pair` have them: an account's jobs newest first, a page
at a time, filtered by tweet and state (worker/ops/job_query.py, worker/ops/finding.py), and
what rtq knows of one account and tweet (worker/ops/lookup.py), through the same services."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from producers.api.base import (
    Problem,
    Route,
    api,
    in_thread,
    invalid,
    not_found,
    query_int,
    query_text,
)
from producers.api.schema import (
    ID,
    NULLABLE_STRING,
    json_response,
    obj,
    path,
    problem_response,
    query,
    ref,
)
from worker.domain.accounts import default_app_id
from worker.domain.jobs import STATES
from worker.ops.finding import JobFinder
from worker.ops.job_query import (
    DEFAULT_LIMIT,
    LIMIT_MAX,
    STATE_ALIASES,
    InvalidQuery,
    JobQuery,
    UnknownAccount,
)
from worker.ops.lookup import read_pair


def _refused(exc: InvalidQuery, names: dict[str, str] | None = None) -> Problem:
    name = (names or {}).get(exc.argument, exc.argument)
    return (not_found if isinstance(exc, UnknownAccount) else invalid)(name, exc.reason)


async def list_account_jobs(request: web.Request) -> web.Response:
    state = api(request)
    for name in ("tweet", "state", "cursor"):
        if request.query.get(name) == "":
            # The CLI reads an empty option as none; a query string says it by leaving it out.
            raise invalid(name, "empty: leave the parameter out instead")
    limit = query_int(request, "limit", default=DEFAULT_LIMIT, low=1, high=LIMIT_MAX)
    try:
        chosen = JobQuery.parse(request.match_info["account_id"],
                                tweet=query_text(request, "tweet"),
                                state=query_text(request, "state"), limit=limit,
                                cursor=query_text(request, "cursor"))
        page = await in_thread(JobFinder(state.redis, state.keys).jobs, chosen)
    except InvalidQuery as exc:
        raise _refused(exc, {"account": "account_id"}) from None
    return web.json_response(page.as_dict())


async def show_pair(request: web.Request) -> web.Response:
    state = api(request)
    try:
        chosen = JobQuery.parse(request.match_info["account_id"],
                                tweet=request.match_info["tweet_id"])
        await in_thread(JobFinder(state.redis, state.keys).require_account, chosen.account_id)
    except InvalidQuery as exc:
        raise _refused(exc, {"account": "account_id", "tweet": "tweet_id"}) from None
    assert chosen.tweet_id is not None
    found = await in_thread(read_pair, state.redis, state.keys, chosen.account_id,
                            chosen.tweet_id, known_state_ttl=state.settings.known_state_ttl,
                            default_app=default_app_id(state.settings.consumer_key))
    return web.json_response(found.as_dict())


_STATE_NAMES = [*STATES, *STATE_ALIASES]
_JOB = obj(["job_id", "action", "account_id", "tweet_id", "state", "created_at", "updated_at",
            "due_at", "waiting_for", "detail", "reason", "attempts", "expires_at", "worker"], {
    "job_id": {"type": "string"},
    "action": NULLABLE_STRING,
    "account_id": NULLABLE_STRING,
    "tweet_id": NULLABLE_STRING,
    "state": {"type": "string", "enum": list(STATES)},
    "created_at": NULLABLE_STRING,
    "updated_at": NULLABLE_STRING,
    "due_at": {**NULLABLE_STRING, "description": "When a waiting job may go next."},
    "waiting_for": {**NULLABLE_STRING, "description": "Why a waiting job waits: rate_window, "
                    "pause, hold, schedule, retry or breaker."},
    "detail": NULLABLE_STRING,
    "reason": NULLABLE_STRING,
    "attempts": {"type": "integer", "nullable": True},
    "expires_at": NULLABLE_STRING,
    "worker": NULLABLE_STRING,
})
_PAGE = obj(["account_id", "jobs", "next_cursor", "examined"], {
    "account_id": {"type": "string"},
    "jobs": {"type": "array", "items": ref("JobSummary")},
    "next_cursor": {**NULLABLE_STRING, "description": "Pass as `cursor` for the next (older) "
                    "page; null: no more."},
    "examined": {"type": "integer", "description": "Index entries this call walked (at most "
                 "5,000: a filter that matches little may return fewer jobs, even none, and a "
                 "cursor)."},
})
_PAIR: dict[str, Any] = obj(["account_id", "tweet_id", "intent", "known", "running",
                             "latest_job", "waiting", "scheduled", "held_back_by"], {
    "account_id": {"type": "string"},
    "tweet_id": {"type": "string"},
    "intent": {"type": "object", "nullable": True, "properties": {
        "seq": {"type": "integer", "nullable": True}, "job_id": NULLABLE_STRING,
        "action": NULLABLE_STRING}},
    "known": {"type": "object", "nullable": True, "properties": {
        "state": {"type": "string"}, "said_at": NULLABLE_STRING,
        "trusted_for_s": {"type": "integer", "nullable": True}}},
    "running": {"type": "object", "nullable": True},
    "latest_job": {"allOf": [ref("JobSummary")], "nullable": True},
    "waiting": {"type": "array", "items": ref("JobSummary")},
    "scheduled": {"type": "array", "items": obj(["job_id", "due_at", "action"], {
        "job_id": {"type": "string"}, "due_at": NULLABLE_STRING, "action": NULLABLE_STRING})},
    "held_back_by": {"type": "array", "items": obj(["kind", "detail", "until"], {
        "kind": {"type": "string"}, "detail": {"type": "string"}, "until": NULLABLE_STRING})},
})
SCHEMAS = {"JobSummary": _JOB, "JobsPage": _PAGE, "Pair": _PAIR}
_TWEET = {"type": "string", "pattern": "^[0-9]{1,19}$", "example": "20"}

ROUTES = (
    Route("GET", "/v1/accounts/{account_id}/jobs", list_account_jobs, {
        "summary": "An account's jobs, newest first, a page at a time (`rtq jobs --account`); "
                   "for a waiting job its due time and why it waits",
        "tags": ["finding"],
        "parameters": [
            path("account_id", ID, "The account."),
            query("tweet", {"type": "string", "maxLength": 200, "example": "20"},
                  "Only its jobs for this tweet (an id or its URL)."),
            query("state", {"type": "string", "enum": _STATE_NAMES},
                  "Only jobs in this state (`waiting` = `deferred`)."),
            query("limit", {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX},
                  f"Jobs per page (default {DEFAULT_LIMIT})."),
            query("cursor", {"type": "string", "pattern": "^[0-9]{1,20}-[0-9]{1,20}$"},
                  "Go on from where a page ended (its `next_cursor`)."),
        ],
        "responses": {
            "200": json_response("One page.", ref("JobsPage")),
            "404": problem_response("rtq knows no such account (neither credentials nor "
                                    "jobs)."),
        },
    }),
    Route("GET", "/v1/pairs/{account_id}/{tweet_id}", show_pair, {
        "summary": "What rtq knows of one account and tweet (`rtq pair`): the latest intent, "
                   "the known state and when X said it, the job running or waiting and why, "
                   "its scheduled jobs, and what holds its jobs back now",
        "tags": ["finding"],
        "parameters": [path("account_id", ID, "The account."),
                       path("tweet_id", _TWEET, "The tweet.")],
        "responses": {
            "200": json_response("The pair.", ref("Pair")),
            "400": problem_response("An id is invalid; `errors` names it."),
            "404": problem_response("rtq knows no such account."),
        },
    }),
)
