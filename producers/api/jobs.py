"""Jobs: enqueue one or a list (`POST /v1/jobs`, the fields of `rtq enqueue` lines, a deadline
included; all valid or none enqueued) and read one's status (`GET /v1/jobs/{job_id}`, `rtq
status --json`)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from producers.api.base import Problem, Route, api, in_thread
from producers.api.schema import ID, json_response, obj, path, problem_response, ref
from producers.errors import InvalidJob
from producers.job_request import JobRequest
from worker.core import clock
from worker.domain.jobs import STATES

MAX_JOBS_PER_REQUEST = 1000


def _field(exc: InvalidJob) -> str:
    return "body" if exc.field == "line" else exc.field


def _invalid_body(reason: str, detail: str, status: int = 400,
                  title: str = "Invalid Request") -> Problem:
    return Problem(status, title, detail, errors=[{"field": "body", "reason": reason}])


async def post_jobs(request: web.Request) -> web.Response:
    try:
        body = await request.json(loads=json.loads)
    except (ValueError, UnicodeDecodeError):
        raise _invalid_body("not valid JSON", "the body is not valid JSON") from None
    records = body if isinstance(body, list) else [body]
    if not records:
        raise _invalid_body("empty list", "no jobs given")
    if len(records) > MAX_JOBS_PER_REQUEST:
        raise _invalid_body("too many jobs", f"at most {MAX_JOBS_PER_REQUEST} jobs per request",
                            422, "Too Many Jobs")
    requests: list[JobRequest] = []
    errors = []
    for index, record in enumerate(records):
        try:
            requests.extend(JobRequest.from_record(record))
        except InvalidJob as exc:
            errors.append({"index": index, "field": _field(exc), "reason": exc.reason})
    if errors:
        first = errors[0]
        raise Problem(422, "Invalid Job", f"{first['field']}: {first['reason']}", errors=errors)
    # Deadlines fixed now, so that the answer names the ones the jobs are enqueued with.
    now, max_delay = clock.now(), api(request).settings.job_max_delay
    requests = [job.with_deadline_from(now, max_delay) for job in requests]
    try:
        ids = await in_thread(api(request).producer.enqueue_many, requests)
    except InvalidJob as exc:
        # The batch's other jobs went in: name them, or a client retrying it doubles them.
        raise Problem(422, "Invalid Job", str(exc),
                      errors=[{"field": _field(exc), "reason": exc.reason}],
                      enqueued=list(exc.enqueued)) from None
    jobs = [{"job_id": job_id, "action": job.action, "account_id": job.account_id,
             "tweet_id": job.tweet_id, "due_at": clock.iso(job.at) if job.at else None,
             "expires_at": (clock.iso_ms(clock.ms(job.expires_at)) if job.expires_at is not None
                            else None)}
            for job_id, job in zip(ids, requests, strict=True)]
    return web.json_response({"jobs": jobs}, status=202)


async def get_job(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    status = await in_thread(api(request).jobs.get, job_id)
    if status is None:
        raise Problem(404, "Not Found", f"job_id: unknown job {job_id}",
                      errors=[{"field": "job_id", "reason": "unknown job"}])
    return web.json_response(status.as_dict())


_JOB_REQUEST = {
    "type": "object",
    "required": ["action", "account_id", "tweet_id"],
    "additionalProperties": False,
    "properties": {
        "action": {"type": "string", "enum": ["retweet", "undo"]},
        "account_id": {"oneOf": [ID, {"type": "integer", "minimum": 0}]},
        "tweet_id": {"oneOf": [ID, {"type": "integer", "minimum": 0},
                               {"type": "string", "format": "uri",
                                "example": "https://x.com/jack/status/20"}]},
        "at": {"type": "string", "format": "date-time",
               "description": "When the job is due (with an offset); omitted: now."},
        "undo_after": {"type": "string", "example": "24h",
                       "description": "Retweets only: also undo it this long after."},
        "expires_at": {"type": "string", "format": "date-time",
                       "description": "Its deadline (with an offset, after `at`): not started "
                                      "by then, it ends `expired` without calling X. Not with "
                                      "`max_delay`."},
        "max_delay": {"oneOf": [{"type": "string", "example": "15m"},
                                {"type": "integer", "minimum": 1}],
                      "description": "Its deadline as a duration after it is due (15m, 2h, 1d, "
                                     "or seconds): not started by then, it ends `expired` "
                                     "without calling X. Not with `expires_at`."},
    },
}
_NULLABLE = {"type": "string", "nullable": True}
_STATUS = obj(
    ["job_id", "action", "account_id", "tweet_id", "state", "attempts", "updated_at", "reason"],
    {
        "job_id": {"type": "string"},
        "action": {"type": "string"},
        "account_id": _NULLABLE,
        "tweet_id": _NULLABLE,
        "state": {"type": "string", "enum": list(STATES)},
        "attempts": {"type": "integer"},
        "updated_at": _NULLABLE,
        "reason": _NULLABLE,
        "created_at": _NULLABLE,
        "due_at": _NULLABLE,
        "http_status": {"type": "integer", "nullable": True},
        "detail": _NULLABLE,
        "worker": _NULLABLE,
        "expires_at": _NULLABLE,
    })
_ENQUEUED = obj(["jobs"], {"jobs": {"type": "array", "items": obj(
    ["job_id", "action", "account_id", "tweet_id"], {
        "job_id": {"type": "string"},
        "action": {"type": "string"},
        "account_id": {"type": "string"},
        "tweet_id": {"type": "string"},
        "due_at": _NULLABLE,
        "expires_at": _NULLABLE})}})

SCHEMAS: dict[str, Any] = {"JobRequest": _JOB_REQUEST, "JobStatus": _STATUS}
ROUTES = (
    Route("POST", "/v1/jobs", post_jobs, {
        "summary": "Enqueue one job or a list (all valid, or none enqueued)",
        "tags": ["jobs"],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "oneOf": [ref("JobRequest"),
                      {"type": "array", "minItems": 1, "maxItems": MAX_JOBS_PER_REQUEST,
                       "items": ref("JobRequest")}]}}}},
        "responses": {
            "202": json_response("Accepted: the jobs are enqueued.", _ENQUEUED),
            "400": problem_response("The body is not JSON, or empty."),
            "413": problem_response("The body is over 1 MiB."),
            "422": problem_response("A job is invalid; `errors` names each field."),
        },
    }),
    Route("GET", "/v1/jobs/{job_id}", get_job, {
        "summary": "A job's status (`rtq status --json`)",
        "tags": ["jobs"],
        "parameters": [path("job_id", {"type": "string"}, "The id POST /v1/jobs returned.")],
        "responses": {
            "200": json_response("The job's status.", ref("JobStatus")),
            "404": problem_response("Unknown (or expired) job."),
        },
    }),
)
