"""The HTTP producer: apps in any language enqueue jobs over HTTP (`rtq api`).

    POST /v1/jobs               one job or a list (the fields of `rtq enqueue` lines, plus `at`,
                                `undo_after`, and a deadline: `expires_at` or `max_delay`); all
                                valid or none enqueued
    GET  /v1/jobs/{id}          a job's status
    GET  /v1/dlq                dead letters (?reason=&account=&since=&limit=)
    POST /v1/dlq/{id}/replay    enqueue a dead letter again (?force=true)
    GET  /healthz               Redis reachable?
    GET  /openapi.json          this API, described

Every route but /healthz and /openapi.json needs `Authorization: Bearer <token>`, a token from
RTQ_API_TOKENS (compared in constant time: worker/core/logins.py). A read-only token (`ro:`)
gets 403 on the routes that write (POST). Errors are RFC 7807 problem details naming the
field. Redis calls run in a thread so the event loop keeps serving. A replay is recorded in
the audit trail (worker/ops/audit.py) as `api:<token label>`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import redis
from aiohttp import web

from producers.errors import EnqueueError, InvalidJob
from producers.job_request import JobRequest
from producers.openapi import OPENAPI
from producers.producer import Producer
from producers.replay import replay_one
from worker.core import clock
from worker.core.ids import InvalidId, parse_account_id
from worker.core.keys import Keys
from worker.core.logins import find, parse_tokens
from worker.core.settings import Settings
from worker.domain.dlq import DeadLetters, Filter, parse_since
from worker.domain.jobs import JobStore
from worker.ops import audit

MAX_BODY_BYTES = 1024 * 1024
MAX_JOBS_PER_REQUEST = 1000
PROBLEM = "application/problem+json"
_STATE = web.AppKey("state", dict)
_LOGIN = "rtq.login"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM)


def create_app(settings: Settings, client: redis.Redis, tokens: tuple[str, ...]) -> web.Application:
    """The API app; `tokens` are RTQ_API_TOKENS' entries (`ro:` marks a read-only one)."""
    logins = parse_tokens(",".join(tokens))
    if not logins:
        raise ValueError("RTQ_API_TOKENS: at least one token is needed")
    keys = Keys(settings.key_prefix)
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[_errors, _auth])
    app[_STATE] = {
        "tokens": logins,
        "producer": Producer(client, settings),
        "jobs": JobStore(client, keys),
        "dead_letters": DeadLetters(client, keys, max_entries=settings.dlq_max,
                                    ttl=settings.dlq_ttl),
        "redis": client,
        "keys": keys,
        "max_delay": settings.job_max_delay,
    }
    app.router.add_post("/v1/jobs", post_jobs)
    app.router.add_get("/v1/jobs/{job_id}", get_job)
    app.router.add_get("/v1/dlq", get_dlq)
    app.router.add_post("/v1/dlq/{entry_id}/replay", post_replay)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/openapi.json", openapi)
    return app


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        return problem(413, "Request Entity Too Large",
                       f"the body is over {MAX_BODY_BYTES} bytes")
    except web.HTTPMethodNotAllowed as exc:
        response = problem(405, "Method Not Allowed",
                           f"{request.method} is not served at {request.path}")
        response.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        return response
    except web.HTTPException as exc:
        if exc.status == 404:
            return problem(404, "Not Found", f"no route {request.method} {request.path}")
        raise
    except (redis.RedisError, EnqueueError) as exc:
        return problem(503, "Service Unavailable", f"Redis is unavailable ({type(exc).__name__})")


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in ("/healthz", "/openapi.json"):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    login = find(token.strip().encode(), request.app[_STATE]["tokens"], "token")
    if scheme.lower() != "bearer" or login is None:
        response = problem(401, "Unauthorized", "a valid bearer token is required")
        response.headers["WWW-Authenticate"] = 'Bearer realm="rtq"'
        return response
    request[_LOGIN] = login
    # Every route that changes something is a POST; a read-only token may read all the rest.
    if login.read_only and request.method not in ("GET", "HEAD", "OPTIONS"):
        return problem(403, "Forbidden", "this token is read-only (ro:); "
                       f"{request.method} {request.path} needs a full-access token")
    return await handler(request)


async def post_jobs(request: web.Request) -> web.Response:
    try:
        body = await request.json(loads=json.loads)
    except (ValueError, UnicodeDecodeError):
        return problem(400, "Invalid Request", "the body is not valid JSON",
                       errors=[{"field": "body", "reason": "not valid JSON"}])
    records = body if isinstance(body, list) else [body]
    if not records:
        return problem(400, "Invalid Request", "no jobs given",
                       errors=[{"field": "body", "reason": "empty list"}])
    if len(records) > MAX_JOBS_PER_REQUEST:
        return problem(422, "Too Many Jobs",
                       f"at most {MAX_JOBS_PER_REQUEST} jobs per request",
                       errors=[{"field": "body", "reason": "too many jobs"}])
    requests: list[JobRequest] = []
    errors = []
    for index, record in enumerate(records):
        try:
            requests.extend(JobRequest.from_record(record))
        except InvalidJob as exc:
            errors.append({"index": index, "field": _field(exc), "reason": exc.reason})
    if errors:
        first = errors[0]
        return problem(422, "Invalid Job", f"{first['field']}: {first['reason']}", errors=errors)
    state = request.app[_STATE]
    producer: Producer = state["producer"]
    # Deadlines fixed now, so that the answer names the ones the jobs are enqueued with.
    now = clock.now()
    requests = [job.with_deadline_from(now, state["max_delay"]) for job in requests]
    try:
        ids = await asyncio.to_thread(producer.enqueue_many, requests)
    except InvalidJob as exc:
        # The batch's other jobs went in: name them, or a client retrying it doubles them.
        return problem(422, "Invalid Job", str(exc),
                       errors=[{"field": _field(exc), "reason": exc.reason}],
                       enqueued=list(exc.enqueued))
    jobs = [{"job_id": job_id, "action": job.action, "account_id": job.account_id,
             "tweet_id": job.tweet_id, "due_at": clock.iso(job.at) if job.at else None,
             "expires_at": (clock.iso_ms(clock.ms(job.expires_at)) if job.expires_at is not None
                            else None)}
            for job_id, job in zip(ids, requests, strict=True)]
    return web.json_response({"jobs": jobs}, status=202)


def _field(exc: InvalidJob) -> str:
    return "body" if exc.field == "line" else exc.field


async def get_job(request: web.Request) -> web.Response:
    jobs: JobStore = request.app[_STATE]["jobs"]
    job_id = request.match_info["job_id"]
    status = await asyncio.to_thread(jobs.get, job_id)
    if status is None:
        return problem(404, "Not Found", f"unknown job {job_id}")
    return web.json_response(status.as_dict())


async def get_dlq(request: web.Request) -> web.Response:
    query = request.query
    reason, account, since = query.get("reason"), query.get("account"), query.get("since")
    try:
        where = Filter(reason=reason,
                       account_id=parse_account_id(account) if account else None,
                       since=parse_since(since) if since else None)
        limit = int(query.get("limit", "100"))
        if not 1 <= limit <= 10_000:
            raise ValueError("limit must be 1 to 10000")
    except (InvalidId, ValueError) as exc:
        field = ("account" if isinstance(exc, InvalidId)
                 else "since" if "ISO" in str(exc) else "limit")
        return problem(400, "Invalid Request", f"{field}: {exc}",
                       errors=[{"field": field, "reason": str(exc)}])
    dead_letters: DeadLetters = request.app[_STATE]["dead_letters"]
    entries = await asyncio.to_thread(dead_letters.list, where=where, limit=limit)
    return web.json_response({"entries": [e.as_dict() for e in entries]})


async def post_replay(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    entry_id = request.match_info["entry_id"]
    entry = await asyncio.to_thread(state["dead_letters"].get, entry_id)
    if entry is None:
        return problem(404, "Not Found", f"unknown dead-letter entry {entry_id}")
    force = request.query.get("force", "false").lower() in ("1", "true", "yes")
    try:
        done = await asyncio.to_thread(replay_one, state["producer"], entry, force=force)
    except InvalidJob as exc:
        return problem(409, "Not Replayed", str(exc),
                       errors=[{"field": _field(exc), "reason": exc.reason}])
    login = request.get(_LOGIN)
    await asyncio.to_thread(audit.record, state["redis"], state["keys"], "dlq.replay",
                            actor=f"api:{login.label}" if login else "api", target=entry_id,
                            jobs=1, job_id=done.job_id, force=force or None)
    return web.json_response({"entry_id": entry_id, "job_id": done.job_id}, status=202)


async def healthz(request: web.Request) -> web.Response:
    client: redis.Redis = request.app[_STATE]["redis"]
    try:
        await asyncio.to_thread(client.ping)
    except redis.RedisError:
        return problem(503, "Service Unavailable", "Redis does not answer")
    return web.json_response({"status": "ok"})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)
