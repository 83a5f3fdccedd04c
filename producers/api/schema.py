"""Pieces of the OpenAPI document that the route groups share: the schemas of what rtq
returns (one per domain object's `as_dict`), parameters and responses. Each group module
describes its own operations with these; producers/api/document.py assembles them."""

from __future__ import annotations

from typing import Any

from worker.domain.account_info import ACCOUNT_STATES
from worker.domain.dlq import REASONS
from worker.domain.holds import APP_REASONS, BREAKER_STATES
from worker.domain.pauses import SCOPE_KINDS

ID = {"type": "string", "pattern": "^[0-9]{1,19}$", "example": "7588892"}
ENTRY_ID = {"type": "string", "pattern": "^[0-9a-f]{16}$", "example": "3f2a9c0d41b7e655"}
NULLABLE_STRING = {"type": "string", "nullable": True}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str], properties: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, **more}


def problem_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/problem+json": {"schema": ref("Problem")}}}


def json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def path(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema,
            "description": description}


BOOLEAN = {"type": "boolean"}
DLQ_FILTERS = [
    query("reason", {"type": "string", "enum": list(REASONS)},
          "Only entries dead-lettered for this reason."),
    query("account", ID, "Only this account's entries."),
    query("since", {"type": "string", "example": "2h"},
          "Only entries that failed since: an ISO-8601 time or a duration back from now "
          "(30m, 2h, 7d)."),
]
SELECTION_LIMIT = query("limit", {"type": "integer", "minimum": 1, "maximum": 999_999_999_999},
                        "At most this many entries, the oldest first.")
BAD_FILTER = problem_response("A parameter is invalid; `errors` names it.")

_PROBLEM = obj(["title", "status", "detail"], {
    "type": {"type": "string"},
    "title": {"type": "string"},
    "status": {"type": "integer"},
    "detail": {"type": "string"},
    "errors": {"type": "array", "items": obj(["field", "reason"], {
        "index": {"type": "integer"}, "field": {"type": "string"},
        "reason": {"type": "string"}})},
    "enqueued": {"type": "array", "items": {"type": "string"},
                 "description": "Ids of the request's jobs that were enqueued before one was "
                                "refused (do not send those again)."},
})
_DEAD_LETTER = obj(
    ["id", "job_id", "action", "account_id", "tweet_id", "reason", "http_status", "detail",
     "attempts", "failed_at"], {
        "id": {"type": "string"},
        "job_id": NULLABLE_STRING,
        "action": NULLABLE_STRING,
        "account_id": NULLABLE_STRING,
        "tweet_id": NULLABLE_STRING,
        "reason": {"type": "string"},
        "http_status": {"type": "integer", "nullable": True},
        "detail": {"type": "string"},
        "attempts": {"type": "integer"},
        "failed_at": {"type": "string"},
        "history": {"type": "array", "items": {"type": "object"},
                    "description": "Every attempt: at, outcome, http_status, worker, ..."},
    })
_BUDGET = obj(["limit", "remaining", "reset_at"], {
    "limit": {"type": "integer", "nullable": True},
    "remaining": {"type": "integer", "nullable": True},
    "reset_at": NULLABLE_STRING})
_ACCOUNT = obj(
    ["account_id", "state", "own_consumer_key", "rate_limit", "budgets", "held_jobs", "app",
     "detail", "held_since", "added_at", "updated_at"], {
        "account_id": {"type": "string"},
        "state": {"type": "string", "enum": list(ACCOUNT_STATES)},
        "own_consumer_key": {"type": "boolean"},
        "rate_limit": NULLABLE_STRING,
        "budgets": {"type": "object", "additionalProperties": ref("Budget")},
        "held_jobs": {"type": "integer"},
        "app": NULLABLE_STRING,
        "detail": NULLABLE_STRING,
        "held_since": NULLABLE_STRING,
        "added_at": NULLABLE_STRING,
        "updated_at": NULLABLE_STRING,
    })
_APP_HOLD = obj(["app", "state", "reason", "detail", "since", "until", "held_jobs"], {
    "app": {"type": "string"},
    "state": {"type": "string", "enum": ["held"]},
    "reason": {"type": "string", "enum": list(APP_REASONS)},
    "detail": {"type": "string"},
    "since": NULLABLE_STRING,
    "until": NULLABLE_STRING,
    "held_jobs": {"type": "integer"},
    "default": {"type": "boolean", "description": "RTQ_CONSUMER_KEY's app."},
})
_STATS = obj(
    ["taken_at", "queue", "lanes", "running", "parked", "dead_letters", "workers", "outcomes",
     "calls", "accounts", "accounts_by_state", "apps", "breaker", "pauses"], {
        "taken_at": {"type": "string"},
        "queue": {"type": "integer"},
        "lanes": _COUNTS,
        "running": {"type": "integer"},
        "parked": _COUNTS,
        "dead_letters": obj(["total", "by_reason", "oldest_failed_at"], {
            "total": {"type": "integer"}, "by_reason": _COUNTS,
            "oldest_failed_at": NULLABLE_STRING}),
        "workers": {"type": "array", "items": obj(["name", "last_beat"], {
            "name": {"type": "string"}, "last_beat": NULLABLE_STRING})},
        "outcomes": _COUNTS,
        "calls": _COUNTS,
        "accounts": {"type": "array", "items": {"allOf": [ref("Account"), obj(["waiting"], {
            "waiting": _COUNTS})]}},
        "accounts_by_state": _COUNTS,
        "apps": obj(["held", "held_jobs", "by_reason", "held_apps"], {
            "held": {"type": "integer"}, "held_jobs": {"type": "integer"},
            "by_reason": _COUNTS,
            "held_apps": {"type": "array", "items": ref("AppHold")}}),
        "breaker": obj(["state", "until", "opened_at"], {
            "state": {"type": "string", "enum": list(BREAKER_STATES)},
            "until": NULLABLE_STRING, "opened_at": NULLABLE_STRING}),
        "pauses": obj(["scopes", "held_jobs", "by_kind", "paused"], {
            "scopes": {"type": "integer", "description": "Pauses in force."},
            "held_jobs": {"type": "integer", "description": "Jobs they hold, in all."},
            "by_kind": obj(list(SCOPE_KINDS), {
                kind: obj(["scopes", "held_jobs"], {
                    "scopes": {"type": "integer"}, "held_jobs": {"type": "integer"}})
                for kind in SCOPE_KINDS}),
            "paused": {"type": "array", "items": ref("Pause")}}),
    })
_AUDIT_ENTRY = obj(["id", "at", "action", "actor", "target", "jobs", "details"], {
    "id": {"type": "string"},
    "at": {"type": "string"},
    "action": {"type": "string"},
    "actor": {"type": "string", "example": "api:token 2"},
    "target": {"type": "string"},
    "jobs": {"type": "integer", "nullable": True},
    "details": {"type": "object"},
})
_PAUSE = obj(["scope", "kind", "since", "held_jobs"], {
    "scope": {"type": "string", "example": "account:7588892",
              "description": "`all`, `account:ID` or `tweet:ID`."},
    "kind": {"type": "string", "enum": list(SCOPE_KINDS),
             "description": "The scope's kind: the part before the colon."},
    "since": NULLABLE_STRING,
    "held_jobs": {"type": "integer"},
})

SCHEMAS: dict[str, Any] = {
    "Problem": _PROBLEM, "DeadLetter": _DEAD_LETTER, "Budget": _BUDGET, "Account": _ACCOUNT,
    "AppHold": _APP_HOLD, "Stats": _STATS, "AuditEntry": _AUDIT_ENTRY, "Pause": _PAUSE,
}
