"""The route table and the OpenAPI 3.0 document, both made from the groups' ROUTES, so a route
cannot exist undescribed (served at /openapi.json, checked by schemathesis).

A new control group is one module with its handlers and `ROUTES` (and `SCHEMAS`, if it has
its own), added to GROUPS. Every operation gets the failures every route shares: 401 and 503
unless public, 403 when it writes, and 400 for a parameter it does not take (on the routes
that take any).
"""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any

from producers.api import cancels, dead_letters, finding, holds, jobs, meta, ops, pauses
from producers.api.base import Route
from producers.api.schema import SCHEMAS, problem_response

GROUPS: tuple[ModuleType, ...] = (jobs, cancels, finding, dead_letters, pauses, holds, ops,
                                  meta)

_SHARED = {
    "400": problem_response("A parameter is invalid or not one this route takes; `errors` "
                            "names it."),
    "401": problem_response("Missing or wrong bearer token."),
    "503": problem_response("Redis is unavailable."),
}
_READ_ONLY = problem_response("The token is read-only (`ro:` in RTQ_API_TOKENS); this route "
                              "needs a full-access token.")


def routes() -> tuple[Route, ...]:
    found: tuple[Route, ...] = tuple(route for group in GROUPS for route in group.ROUTES)
    return found


def build(table: tuple[Route, ...]) -> dict[str, Any]:
    schemas = dict(SCHEMAS)
    for group in GROUPS:
        schemas.update(getattr(group, "SCHEMAS", {}))
    paths: dict[str, dict[str, Any]] = {}
    for route in table:
        operation = copy.deepcopy(route.operation)
        operation["operationId"] = route.handler.__name__
        responses = operation.setdefault("responses", {})
        if route.public:
            operation["security"] = []
        else:
            for status, response in _SHARED.items():
                if status != "400" or route.query_names:
                    responses.setdefault(status, response)
            if route.writes:
                responses.setdefault("403", _READ_ONLY)
        method = route.method.lower()
        if method in paths.setdefault(route.path, {}):
            raise ValueError(f"{route.method} {route.path} is declared twice")
        paths[route.path][method] = operation
    ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    if len(ids) != len(set(ids)):
        raise ValueError("operationIds must be unique: name each handler apart")
    return {
        "openapi": "3.0.3",
        "info": {"title": "rtq HTTP API", "version": "1",
                 "description": "Enqueue retweet / undo jobs (POST /v1/jobs, each with an "
                                "optional deadline: `expires_at` or `max_delay`) and follow "
                                "them; cancel pending jobs (by id, account, tweet or pair); "
                                "find jobs (an account's jobs by tweet and state, what rtq "
                                "knows of an account and tweet); the operator controls of "
                                "the `rtq` CLI (pauses, dead letters, accounts and held "
                                "apps, stats, the audit trail). Read-only tokens (`ro:`) may "
                                "use every GET."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": schemas},
        "security": [{"bearer": []}],
        "paths": paths,
    }


OPENAPI: dict[str, Any] = build(routes())
