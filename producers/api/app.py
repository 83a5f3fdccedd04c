"""The aiohttp application of `rtq api`: the route table (producers/api/document.py) behind
two middlewares. `_errors` turns every failure into an RFC 7807 problem document; `_guard`
checks the bearer token (RTQ_API_TOKENS, compared in constant time: worker/core/logins.py),
refuses a read-only token on every route that writes (403), and, on the routes that take
query parameters, one they do not take (400, naming it: a misspelt filter must never widen a
purge)."""

from __future__ import annotations

import redis
from aiohttp import web

from producers.api.base import API, LOGIN, Api, Handler, Problem, Route, api, invalid, problem
from producers.api.document import build, routes
from producers.errors import EnqueueError
from worker.core.logins import find, parse_tokens
from worker.core.settings import Settings

MAX_BODY_BYTES = 1024 * 1024
MAX_LINE_BYTES = 16 * 1024
_ROUTES = web.AppKey("routes", dict)
_FIXED = web.AppKey("fixed", dict)


def create_app(settings: Settings, client: redis.Redis, tokens: tuple[str, ...]
               ) -> web.Application:
    """The API app; `tokens` are RTQ_API_TOKENS' entries (`ro:` marks a read-only one)."""
    logins = parse_tokens(",".join(tokens))
    if not logins:
        raise ValueError("RTQ_API_TOKENS: at least one token is needed")
    table = routes()
    # A request line of up to 16 KiB (aiohttp's default is 8 KiB, answered in plain text
    # before any middleware could make it a problem): the longest one the document allows
    # (50 job ids and a tweet URL, percent-encoded) stays well under it.
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[_errors, _guard],
                          handler_args={"max_line_size": MAX_LINE_BYTES})
    state = Api.build(settings, client, logins)
    state.document = build(table)
    app[API] = state
    index: dict[tuple[str, str], Route] = {}
    fixed: dict[str, set[str]] = {}
    for route in table:
        methods = {route.method, "HEAD"} if route.method == "GET" else {route.method}
        if route.method == "GET":
            app.router.add_get(route.path, route.handler)  # and HEAD, for health checks
        else:
            app.router.add_route(route.method, route.path, route.handler)
        for method in methods:
            index[(method, route.path)] = route
        if "{" not in route.path:
            fixed.setdefault(route.path, set()).update(methods)
    app[_ROUTES] = index
    app[_FIXED] = fixed
    return app


def _route_of(request: web.Request) -> Route | None:
    resource = request.match_info.route.resource
    if resource is None:  # no route matched: 404 or 405, after the token is checked
        return None
    found: Route | None = request.app[_ROUTES].get((request.method, resource.canonical))
    return found


def _shadowed(request: web.Request, route: Route) -> bool:
    """GET /v1/dlq/purge reaches GET /v1/dlq/{entry_id} in aiohttp; it is the fixed path
    asked with a method it does not serve (no entry id is `purge`): 405."""
    return route.path != request.path and request.path in request.app[_FIXED]


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as exc:
        return exc.response()
    except web.HTTPRequestEntityTooLarge:
        return problem(413, "Request Entity Too Large",
                       f"the body is over {MAX_BODY_BYTES} bytes")
    except web.HTTPMethodNotAllowed as exc:
        response = problem(405, "Method Not Allowed",
                           f"{request.method} is not served at {request.path}")
        # A fixed path (/v1/dlq/purge) also matches a templated one (/v1/dlq/{entry_id}),
        # whose methods aiohttp adds in: name only the fixed path's own.
        allowed = request.app[_FIXED].get(request.path) or exc.allowed_methods
        response.headers["Allow"] = ", ".join(sorted(allowed))
        return response
    except web.HTTPException as exc:
        if exc.status == 404:
            return problem(404, "Not Found", f"no route {request.method} {request.path}")
        raise
    except (redis.RedisError, EnqueueError) as exc:
        return problem(503, "Service Unavailable", f"Redis is unavailable ({type(exc).__name__})")


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = _route_of(request)
    if route is not None and route.public:
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    login = find(token.strip().encode(), api(request).tokens, "token")
    if scheme.lower() != "bearer" or login is None:
        response = problem(401, "Unauthorized", "a valid bearer token is required")
        response.headers["WWW-Authenticate"] = 'Bearer realm="rtq"'
        return response
    request[LOGIN] = login
    if route is None:
        return await handler(request)
    if _shadowed(request, route):
        raise web.HTTPMethodNotAllowed(request.method, request.app[_FIXED][request.path])
    if login.read_only and route.writes:
        return problem(403, "Forbidden", f"this token is read-only (ro:); {request.method} "
                       f"{route.path} changes something and needs a full-access token")
    # Only routes that take parameters check them (a misspelt filter must not widen a
    # selection); the others ignore a query string, as they always did.
    unknown = sorted(set(request.query) - route.query_names) if route.query_names else []
    if unknown:
        raise invalid(unknown[0], f"not a parameter of {route.method} {route.path}")
    return await handler(request)
