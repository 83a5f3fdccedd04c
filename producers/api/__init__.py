"""The HTTP API (`rtq api`): producers enqueue over HTTP, and operators have every control of
the `rtq` CLI, each a small handler over the service the CLI calls.

    jobs.py          POST /v1/jobs, GET /v1/jobs/{job_id}
    cancels.py       POST /v1/cancel, POST /v1/jobs/{job_id}/cancel
    finding.py       GET /v1/accounts/{account_id}/jobs, GET /v1/pairs/{account_id}/{tweet_id}
    dead_letters.py  GET /v1/dlq, GET /v1/dlq/export, POST /v1/dlq/replay, POST /v1/dlq/purge,
                     GET|DELETE /v1/dlq/{entry_id}, POST /v1/dlq/{entry_id}/replay
    pauses.py        GET /v1/pauses, POST /v1/pause, POST /v1/resume
    holds.py         GET /v1/accounts, POST /v1/accounts/{account_id}/release,
                     GET /v1/apps, POST /v1/apps/{app}/release
    ops.py           GET /v1/stats, GET /v1/audit
    meta.py          GET /healthz, GET /openapi.json (no token)

base.py holds what handlers share (the services, problems, strict query parameters, the audit
record as `api:<token label>`), schema.py the OpenAPI pieces, document.py the route table and
the document made from it, app.py the application and its middlewares (auth, read-only
scope, unknown parameters, errors as RFC 7807 problem details).
"""

from producers.api.app import MAX_BODY_BYTES, create_app

__all__ = ["MAX_BODY_BYTES", "create_app"]
