"""What operators read: `rtq stats --json` (the same document, from the same StatsReader) and
the audit trail as `rtq audit --json` has it (worker/ops/audit.py `entries`, with its
filters)."""

from __future__ import annotations

from aiohttp import web

from producers.api.base import Route, api, in_thread, invalid, query_int, query_text
from producers.api.schema import json_response, obj, problem_response, query, ref
from worker.domain.dlq import parse_since
from worker.ops.audit import ACTIONS, entries

AUDIT_LIMIT = 10_000


async def stats(request: web.Request) -> web.Response:
    snapshot = await in_thread(api(request).stats.snapshot)
    return web.json_response(snapshot.as_dict())


async def audit_trail(request: web.Request) -> web.Response:
    limit = query_int(request, "limit", default=50, high=AUDIT_LIMIT)
    action = query_text(request, "action")
    if action is not None and action not in ACTIONS:
        raise invalid("action", f"not an audited action: {action} (one of "
                                f"{', '.join(ACTIONS)})")
    since = query_text(request, "since")
    try:
        moment = parse_since(since) if since is not None else None
    except ValueError as exc:
        raise invalid("since", str(exc)) from None
    state = api(request)
    found = await in_thread(entries, state.redis, state.keys, limit=limit, action=action,
                            since=moment)
    return web.json_response({"entries": [entry.as_dict() for entry in found]})


ROUTES = (
    Route("GET", "/v1/stats", stats, {
        "summary": "Queue, running, parked, dead letters, workers, outcomes, accounts, held "
                   "apps and the breaker: the `rtq stats --json` document",
        "tags": ["operations"],
        "responses": {"200": json_response("A snapshot, read from Redis now.", ref("Stats"))},
    }),
    Route("GET", "/v1/audit", audit_trail, {
        "summary": "Operator actions, newest first (`rtq audit --json`): who, what, how many "
                   "jobs",
        "tags": ["operations"],
        "parameters": [
            query("limit", {"type": "integer", "minimum": 1, "maximum": AUDIT_LIMIT,
                            "default": 50}, "At most this many entries."),
            query("action", {"type": "string", "enum": list(ACTIONS)},
                  "Only this action's entries."),
            query("since", {"type": "string", "example": "2h"},
                  "Only entries since: a duration back from now (30m, 2h, 7d) or an ISO "
                  "time."),
        ],
        "responses": {
            "200": json_response("Entries.", obj(["entries"], {
                "entries": {"type": "array", "items": ref("AuditEntry")}})),
            "400": problem_response("A parameter is invalid; `errors` names it."),
        },
    }),
)
