"""The OpenAPI 3.0 document of the HTTP producer (served at /openapi.json, tested with
schemathesis so the code and the document cannot drift apart)."""

from __future__ import annotations

from typing import Any

_ID = {"type": "string", "pattern": "^[0-9]{1,19}$", "example": "7588892"}
_PROBLEM = {
    "type": "object",
    "required": ["title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {"index": {"type": "integer"}, "field": {"type": "string"},
                               "reason": {"type": "string"}},
            },
        },
        "enqueued": {
            "type": "array", "items": {"type": "string"},
            "description": "Ids of the request's jobs that were enqueued before one was "
                           "refused (do not send those again).",
        },
    },
}


def _problem(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {"description": description,
            "content": {"application/problem+json": {"schema": schema}}}


_JOB_REQUEST = {
    "type": "object",
    "required": ["action", "account_id", "tweet_id"],
    "additionalProperties": False,
    "properties": {
        "action": {"type": "string", "enum": ["retweet", "undo"]},
        "account_id": {"oneOf": [_ID, {"type": "integer", "minimum": 0}]},
        "tweet_id": {"oneOf": [_ID, {"type": "integer", "minimum": 0},
                               {"type": "string", "format": "uri",
                                "example": "https://x.com/jack/status/20"}]},
        "at": {"type": "string", "format": "date-time",
               "description": "When the job is due (with an offset); omitted: now."},
        "undo_after": {"type": "string", "example": "24h",
                       "description": "Retweets only: also undo it this long after."},
    },
}
_STATUS = {
    "type": "object",
    "required": ["job_id", "action", "account_id", "tweet_id", "state", "attempts",
                 "updated_at", "reason"],
    "properties": {
        "job_id": {"type": "string"},
        "action": {"type": "string"},
        "account_id": {"type": "string", "nullable": True},
        "tweet_id": {"type": "string", "nullable": True},
        "state": {"type": "string", "enum": ["queued", "deferred", "running", "succeeded",
                                             "skipped", "superseded", "dead",
                                             "cancelled"]},
        "attempts": {"type": "integer"},
        "updated_at": {"type": "string", "nullable": True},
        "reason": {"type": "string", "nullable": True},
        "created_at": {"type": "string", "nullable": True},
        "due_at": {"type": "string", "nullable": True},
        "http_status": {"type": "integer", "nullable": True},
        "detail": {"type": "string", "nullable": True},
        "worker": {"type": "string", "nullable": True},
    },
}
_DEAD_LETTER = {
    "type": "object",
    "required": ["id", "job_id", "action", "account_id", "tweet_id", "reason", "http_status",
                 "detail", "attempts", "failed_at"],
    "properties": {
        "id": {"type": "string"},
        "job_id": {"type": "string", "nullable": True},
        "action": {"type": "string", "nullable": True},
        "account_id": {"type": "string", "nullable": True},
        "tweet_id": {"type": "string", "nullable": True},
        "reason": {"type": "string"},
        "http_status": {"type": "integer", "nullable": True},
        "detail": {"type": "string"},
        "attempts": {"type": "integer"},
        "failed_at": {"type": "string"},
        "history": {"type": "array", "items": {"type": "object"}},
    },
}
_AUTH_FAILURES = {"401": _problem("Missing or wrong bearer token."),
                  "503": _problem("Redis is unavailable.")}
_WRITE_FAILURES = {**_AUTH_FAILURES,
                   "403": _problem("The token is read-only (`ro:` in RTQ_API_TOKENS).")}

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "rtq HTTP producer", "version": "1",
             "description": "Enqueue retweet / undo jobs and follow them."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {"Problem": _PROBLEM, "JobRequest": _JOB_REQUEST, "JobStatus": _STATUS,
                    "DeadLetter": _DEAD_LETTER},
    },
    "security": [{"bearer": []}],
    "paths": {
        "/v1/jobs": {
            "post": {
                "summary": "Enqueue one job or a list (all valid, or none enqueued)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "oneOf": [{"$ref": "#/components/schemas/JobRequest"},
                              {"type": "array", "minItems": 1, "maxItems": 1000,
                               "items": {"$ref": "#/components/schemas/JobRequest"}}]}}}},
                "responses": {
                    "202": {"description": "Accepted: the jobs are enqueued.",
                            "content": {"application/json": {"schema": {
                                "type": "object", "required": ["jobs"],
                                "properties": {"jobs": {"type": "array", "items": {
                                    "type": "object",
                                    "required": ["job_id", "action", "account_id", "tweet_id"],
                                    "properties": {
                                        "job_id": {"type": "string"},
                                        "action": {"type": "string"},
                                        "account_id": {"type": "string"},
                                        "tweet_id": {"type": "string"},
                                        "due_at": {"type": "string", "nullable": True}}}}}}}}},
                    "400": _problem("The body is not JSON, or empty."),
                    "413": _problem("The body is over 1 MiB."),
                    "422": _problem("A job is invalid; `errors` names each field."),
                    **_WRITE_FAILURES,
                },
            },
        },
        "/v1/jobs/{job_id}": {
            "get": {
                "summary": "A job's status",
                "parameters": [{"name": "job_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The job's status.", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/JobStatus"}}}},
                    "404": _problem("Unknown (or expired) job."),
                    **_AUTH_FAILURES,
                },
            },
        },
        "/v1/dlq": {
            "get": {
                "summary": "Dead letters, oldest first",
                "parameters": [
                    {"name": "reason", "in": "query", "schema": {"type": "string"}},
                    {"name": "account", "in": "query", "schema": {"type": "string"}},
                    {"name": "since", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
                ],
                "responses": {
                    "200": {"description": "Entries.", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["entries"],
                        "properties": {"entries": {"type": "array", "items": {
                            "$ref": "#/components/schemas/DeadLetter"}}}}}}},
                    "400": _problem("A filter is invalid."),
                    **_AUTH_FAILURES,
                },
            },
        },
        "/v1/dlq/{entry_id}/replay": {
            "post": {
                "summary": "Enqueue a dead letter's action again as a new job",
                "parameters": [
                    {"name": "entry_id", "in": "path", "required": True,
                     "schema": {"type": "string"}},
                    {"name": "force", "in": "query", "schema": {"type": "boolean"}},
                ],
                "responses": {
                    "202": {"description": "Replayed.", "content": {"application/json": {
                        "schema": {"type": "object", "required": ["entry_id", "job_id"],
                                   "properties": {"entry_id": {"type": "string"},
                                                  "job_id": {"type": "string"}}}}}},
                    "404": _problem("Unknown entry."),
                    "409": _problem("Not replayed (malformed, permanent without force, ...)."),
                    **_WRITE_FAILURES,
                },
            },
        },
        "/healthz": {
            "get": {
                "summary": "Is Redis reachable?", "security": [],
                "responses": {"200": {"description": "Healthy.", "content": {"application/json": {
                    "schema": {"type": "object"}}}},
                              "503": _problem("Redis does not answer.")},
            },
        },
    },
}
