"""Dead letters, as `rtq dlq` has them: list, show one, replay one or a selection, purge one
or a selection, export a selection as JSON Lines (streamed). Selections take the CLI's filters
(`reason`, `account`, `since`, `limit`) and its rules, through the same calls: DeadLetters'
`list` / `purge_matching` / `remove`, `DeadLetter.job_line`, and producers/replay.py
(malformed messages are never replayed; permanent reasons and vanished accounts need
`force`). A purge or a replay of a selection without a filter needs `all=true`: an empty
request never empties the queue.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice

import redis
from aiohttp import web

from producers.api.base import (
    Problem,
    Route,
    api,
    dlq_filter,
    in_thread,
    invalid,
    query_bool,
    query_int,
    query_text,
    record,
)
from producers.api.schema import (
    BAD_FILTER,
    BOOLEAN,
    DLQ_FILTERS,
    ENTRY_ID,
    SELECTION_LIMIT,
    json_response,
    obj,
    path,
    problem_response,
    query,
    ref,
)
from producers.errors import InvalidJob
from producers.replay import Refused, Replayed, bulk_selection, replay_each, replay_one
from worker.domain.dlq import DeadLetter, Filter
from worker.ops.audit import describe_filter

LIST_LIMIT = 10_000
_EXPORT_BATCH = 500
JSON_LINES = "application/x-ndjson"


def _selection(request: web.Request) -> tuple[Filter, int | None, str]:
    """The entries a bulk action takes: filters, or `all=true` (not both), and the audit
    target naming them as the CLI does."""
    where = dlq_filter(request)
    limit = query_int(request, "limit", default=None)
    everything = query_bool(request, "all")
    if everything and (not where.empty or limit is not None):
        raise invalid("all", "give all=true or filters (reason, account, since, limit), "
                             "not both")
    if not everything and where.empty and limit is None:
        raise invalid("all", "give filters (reason, account, since, limit), or all=true for "
                             "every entry")
    target = describe_filter(reason=query_text(request, "reason"),
                             account=query_text(request, "account"),
                             since=query_text(request, "since"), limit=limit)
    return where, limit, target


async def _entry(request: web.Request) -> DeadLetter:
    entry_id = request.match_info["entry_id"]
    entry = await in_thread(api(request).dead_letters.get, entry_id)
    if entry is None:
        raise _unknown(entry_id)
    return entry


def _unknown(entry_id: str) -> Problem:
    return Problem(404, "Not Found", f"entry_id: unknown dead-letter entry {entry_id} "
                   "(replayed, purged or trimmed)",
                   errors=[{"field": "entry_id", "reason": "unknown dead-letter entry"}])


async def list_entries(request: web.Request) -> web.Response:
    where = dlq_filter(request)
    limit = query_int(request, "limit", default=100, high=LIST_LIMIT)
    entries = await in_thread(api(request).dead_letters.list, where=where, limit=limit)
    return web.json_response({"entries": [entry.as_dict() for entry in entries]})


async def show_entry(request: web.Request) -> web.Response:
    return web.json_response((await _entry(request)).as_dict())


async def replay_entry(request: web.Request) -> web.Response:
    entry = await _entry(request)
    force = query_bool(request, "force")
    try:
        done = await in_thread(replay_one, api(request).producer, entry, force=force)
    except InvalidJob as exc:
        field = "body" if exc.field == "line" else exc.field
        raise Problem(409, "Not Replayed", str(exc),
                      errors=[{"field": field, "reason": exc.reason}]) from None
    await in_thread(record, request, "dlq.replay", entry.id, 1, job_id=done.job_id,
                    force=force or None)
    return web.json_response({"entry_id": entry.id, "job_id": done.job_id}, status=202)


async def replay_selection(request: web.Request) -> web.Response:
    where, limit, target = _selection(request)
    force = query_bool(request, "force")
    state = api(request)

    def run() -> list[Replayed | Refused]:
        return list(replay_each(state.producer, bulk_selection(state.dead_letters, where,
                                                               limit), force=force))

    results = await in_thread(run)
    done = [r for r in results if isinstance(r, Replayed)]
    refused = [r for r in results if isinstance(r, Refused)]
    if done or not refused:
        await in_thread(record, request, "dlq.replay", target, len(done),
                        refused=len(refused) or None, force=force or None)
    return web.json_response({
        "replayed": [{"entry_id": r.entry_id, "job_id": r.job_id} for r in done],
        "refused": [{"entry_id": r.entry_id, "reason": r.reason} for r in refused]})


async def purge_selection(request: web.Request) -> web.Response:
    where, limit, target = _selection(request)
    removed = await in_thread(api(request).dead_letters.purge_matching, where, limit)
    await in_thread(record, request, "dlq.purge", target, removed)
    return web.json_response({"purged": removed})


async def purge_entry(request: web.Request) -> web.Response:
    entry_id = request.match_info["entry_id"]
    removed = await in_thread(api(request).dead_letters.remove, [entry_id])
    if not removed:
        raise _unknown(entry_id)
    await in_thread(record, request, "dlq.purge", entry_id, removed)
    return web.json_response({"entry_id": entry_id, "purged": removed})


class ExportInterrupted(RuntimeError):
    """Redis failed after the export's first lines were sent: the answer is cut off (no final
    chunk), so the client sees an incomplete transfer, never a short export that looks whole."""


async def export(request: web.Request) -> web.StreamResponse:
    """JSON Lines `rtq enqueue` reads back, written as they are read (batches of 500), so an
    export of the whole queue never sits in memory."""
    where = dlq_filter(request)
    limit = query_int(request, "limit", default=None)
    entries = api(request).dead_letters.iter(where)
    first = await in_thread(_take, entries, _EXPORT_BATCH if limit is None
                            else min(limit, _EXPORT_BATCH))
    response = web.StreamResponse(headers={"Content-Type": JSON_LINES})
    await response.prepare(request)
    batch, sent = first, 0
    try:
        while batch:
            sent += len(batch)
            lines = [line for line in (entry.job_line() for entry in batch) if line is not None]
            if lines:
                await response.write("".join(json.dumps(line) + "\n" for line in lines).encode())
            size = _EXPORT_BATCH if limit is None else min(limit - sent, _EXPORT_BATCH)
            batch = await in_thread(_take, entries, size) if size > 0 else []
    except redis.RedisError as exc:
        raise ExportInterrupted(f"Redis failed during the export ({type(exc).__name__})") \
            from None
    await response.write_eof()
    return response


def _take(entries: Iterator[DeadLetter], count: int) -> list[DeadLetter]:
    return list(islice(entries, count))


_FORCE = query("force", BOOLEAN, "Also replay entries that failed for a permanent reason, or "
                                 "whose account rtq no longer has.")
_ALL = query("all", BOOLEAN, "Every entry (instead of filters).")
_ENTRY = path("entry_id", ENTRY_ID, "The entry's id, as GET /v1/dlq lists it.")
_UNKNOWN = problem_response("Unknown entry (replayed, purged or trimmed).")
_REPLAYED = obj(["entry_id", "job_id"], {"entry_id": {"type": "string"},
                                         "job_id": {"type": "string"}})
_REPORT = obj(["replayed", "refused"], {
    "replayed": {"type": "array", "items": _REPLAYED},
    "refused": {"type": "array", "items": obj(["entry_id", "reason"], {
        "entry_id": {"type": "string"}, "reason": {"type": "string"}})}})

# Fixed paths first: aiohttp matches in this order, and `export` is no entry id.
ROUTES = (
    Route("GET", "/v1/dlq", list_entries, {
        "summary": "Dead letters, oldest first (`rtq dlq list`)",
        "tags": ["dead letters"],
        "parameters": [*DLQ_FILTERS, query("limit", {"type": "integer", "minimum": 1,
                                                     "maximum": LIST_LIMIT, "default": 100},
                                           "At most this many entries.")],
        "responses": {
            "200": json_response("Entries.", obj(["entries"], {
                "entries": {"type": "array", "items": ref("DeadLetter")}})),
            "400": BAD_FILTER,
        },
    }),
    Route("GET", "/v1/dlq/export", export, {
        "summary": "Dead letters as JSON Lines that `rtq enqueue` reads back (`rtq dlq "
                   "export`), streamed; entries without an action and ids are left out",
        "tags": ["dead letters"],
        "parameters": [*DLQ_FILTERS, SELECTION_LIMIT],
        "responses": {
            "200": {"description": 'One `{"action", "account_id", "tweet_id"}` per line.',
                    "content": {JSON_LINES: {"schema": {"type": "string"}}}},
            "400": BAD_FILTER,
        },
    }),
    Route("POST", "/v1/dlq/replay", replay_selection, {
        "summary": "Replay a selection (`rtq dlq replay --all | filters`): each entry's action "
                   "enqueued again as a new job; entries refused are listed and left",
        "tags": ["dead letters"],
        "parameters": [*DLQ_FILTERS, SELECTION_LIMIT, _ALL, _FORCE],
        "responses": {
            "200": json_response("What was replayed, and what was not and why.", _REPORT),
            "400": BAD_FILTER,
        },
    }),
    Route("POST", "/v1/dlq/purge", purge_selection, {
        "summary": "Delete dead letters: those the filters select, or all=true (`rtq dlq "
                   "purge`)",
        "tags": ["dead letters"],
        "parameters": [*DLQ_FILTERS, SELECTION_LIMIT, _ALL],
        "responses": {
            "200": json_response("How many were deleted.", obj(["purged"], {
                "purged": {"type": "integer"}})),
            "400": BAD_FILTER,
        },
    }),
    Route("GET", "/v1/dlq/{entry_id}", show_entry, {
        "summary": "One dead letter with the history of every attempt (`rtq dlq show`)",
        "tags": ["dead letters"],
        "parameters": [_ENTRY],
        "responses": {"200": json_response("The entry.", ref("DeadLetter")), "404": _UNKNOWN},
    }),
    Route("DELETE", "/v1/dlq/{entry_id}", purge_entry, {
        "summary": "Delete one dead letter",
        "tags": ["dead letters"],
        "parameters": [_ENTRY],
        "responses": {
            "200": json_response("Deleted.", obj(["entry_id", "purged"], {
                "entry_id": {"type": "string"}, "purged": {"type": "integer"}})),
            "404": _UNKNOWN,
        },
    }),
    Route("POST", "/v1/dlq/{entry_id}/replay", replay_entry, {
        "summary": "Enqueue a dead letter's action again as a new job (`rtq dlq replay ID`)",
        "tags": ["dead letters"],
        "parameters": [_ENTRY, _FORCE],
        "responses": {
            "202": json_response("Replayed.", _REPLAYED),
            "404": _UNKNOWN,
            "409": problem_response("Not replayed (malformed, permanent without force, ...)."),
        },
    }),
)
