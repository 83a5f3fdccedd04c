"""Cancelling, as `rtq cancel` has it: jobs by id (`job`, repeated, or one job's own route),
every pending job of an account (`account`), of a tweet across accounts (`tweet`), or of one
pair (both), through the same domain service (worker/domain/cancelling.py: `selection`,
`Cancels`)."""

from __future__ import annotations

from aiohttp import web

from producers.api.base import (
    Problem,
    Route,
    actor,
    api,
    in_thread,
    invalid,
    not_found,
    query_text,
    record,
)
from producers.api.schema import ID, json_response, obj, path, problem_response, query
from worker.domain.cancelling import CancelReport, InvalidCancel, UnknownToCancel, selection

JOB_ID = {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,128}$",
          "example": "5f0c6a2e-8d1b-4b8e-9a57-2f4b3c1d9e07"}
MAX_JOBS = 50
# The domain's field names as this API names its parameters.
_PARAMETER = {"job_ids": "job", "account_id": "account", "tweet_id": "tweet"}


async def _cancel(request: web.Request, job_ids: list[str], account: str | None,
                  tweet: str | None) -> web.Response:
    state = api(request)
    try:
        chosen = selection(job_ids, account, tweet)
        report: CancelReport = await in_thread(
            state.cancels.cancel, chosen, actor=actor(request))
    except InvalidCancel as exc:
        name = _PARAMETER.get(exc.field, exc.field)
        refuse = not_found if isinstance(exc, UnknownToCancel) else invalid
        raise refuse(name, exc.message) from None
    await in_thread(record, request, "cancel", report.target, report.cancelled,
                    **report.audit_details())
    return web.json_response(report.as_dict())


async def cancel_jobs(request: web.Request) -> web.Response:
    job_ids = request.query.getall("job", [])
    if len(job_ids) > MAX_JOBS:
        raise Problem(400, "Invalid Request", f"job: at most {MAX_JOBS} per request "
                      f"({len(job_ids)} given): cancel them in several requests",
                      errors=[{"field": "job", "reason": "too many"}])
    account, tweet = query_text(request, "account"), query_text(request, "tweet")
    if not job_ids and account is None and tweet is None:
        raise Problem(400, "Invalid Request", "job, account or tweet: say what to cancel "
                      "(job ids, or an account and/or a tweet)",
                      errors=[{"field": "job", "reason": "nothing selected"}])
    return await _cancel(request, job_ids, account, tweet)


async def cancel_job(request: web.Request) -> web.Response:
    return await _cancel(request, [request.match_info["job_id"]], None, None)


_REPORT = obj(["target", "cancelled", "finished", "running", "missing"], {
    "target": {"type": "string", "example": "account:7588892"},
    "cancelled": {"type": "integer", "description": "Jobs that ended `cancelled`."},
    "finished": {"type": "integer", "description": "Jobs that had finished already."},
    "running": {"type": "array", "items": {"type": "string"},
                "description": "Jobs running now: each finishes the call it is making and is "
                               "not tried again."},
    "missing": {"type": "integer", "description": "Ids without a record (expired)."},
})
SCHEMAS = {"CancelReport": _REPORT}
_ANSWERS = {
    "200": json_response("What was cancelled, what had finished, what is running.",
                         {"$ref": "#/components/schemas/CancelReport"}),
    "400": problem_response("Nothing selected, job ids together with account/tweet, or a "
                            "malformed id; `errors` names it."),
    "404": problem_response("No such job, or no such account."),
}
_NOTE = ("A cancelled job ends `cancelled` and makes no call, across redeliveries, restarts "
         "and prefetching workers; a job already running finishes.")

ROUTES = (
    Route("POST", "/v1/cancel", cancel_jobs, {
        "summary": "Cancel pending jobs: by id (`job`, repeated), every pending job of an "
                   "account, of a tweet across accounts, or of one pair (`rtq cancel`). "
                   + _NOTE,
        "tags": ["cancel"],
        "parameters": [
            {**query("job", {"type": "array", "maxItems": MAX_JOBS, "items": JOB_ID},
                     f"A job id (repeat for several, up to {MAX_JOBS}, so that the request "
                     "line stays under the 16 KiB it may take)."),
             "style": "form", "explode": True},
            query("account", ID, "Every pending job of this account."),
            query("tweet", {"type": "string", "example": "20", "maxLength": 200,
                            "description": "A tweet id, or its URL."},
                  "Every pending job for this tweet, whatever the account."),
        ],
        "responses": _ANSWERS,
    }),
    Route("POST", "/v1/jobs/{job_id}/cancel", cancel_job, {
        "summary": "Cancel one job (`rtq cancel JOB_ID`). " + _NOTE,
        "tags": ["cancel"],
        "parameters": [path("job_id", JOB_ID, "The job's id.")],
        "responses": _ANSWERS,
    }),
)
