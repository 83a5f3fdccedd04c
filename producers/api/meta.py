"""The routes that need no token: `/healthz` (is Redis reachable?) and `/openapi.json` (this
API, described)."""

from __future__ import annotations

import redis
from aiohttp import web

from producers.api.base import Route, api, in_thread, problem
from producers.api.schema import json_response, problem_response


async def healthz(request: web.Request) -> web.Response:
    try:
        await in_thread(api(request).redis.ping)
    except redis.RedisError:
        return problem(503, "Service Unavailable", "Redis does not answer")
    return web.json_response({"status": "ok"})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(api(request).document)


ROUTES = (
    Route("GET", "/healthz", healthz, {
        "summary": "Is Redis reachable?",
        "tags": ["meta"],
        "responses": {"200": json_response("Healthy.", {"type": "object"}),
                      "503": problem_response("Redis does not answer.")},
    }, public=True),
    Route("GET", "/openapi.json", openapi, {
        "summary": "This document",
        "tags": ["meta"],
        "responses": {"200": json_response("The OpenAPI 3.0 document.", {"type": "object"})},
    }, public=True),
)
