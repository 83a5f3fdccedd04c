"""The console's aiohttp application: its routes, the middlewares every request goes through
(security headers; sign-in and the POST checks of worker/web/auth.py; error pages) and the
stylesheet it serves from the package (nothing comes from elsewhere)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import redis
from aiohttp import web

from worker.core.settings import Settings
from worker.web import accounts, dead_letters, dlq_actions, login, lookup, overview
from worker.web.auth import Authenticator
from worker.web.context import CONSOLE, IDENTITY, Console, console, in_thread, problem_page
from worker.web.html import url

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CSS = (Path(__file__).parent / "static" / "console.css").read_text()
# Served to anyone: the login form and what it needs, and a health check for load balancers.
PUBLIC = frozenset({"/login", "/healthz", "/static/console.css", "/favicon.ico"})
# Pages may load only what this host serves, run no script at all, and not be framed.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
MAX_BODY = 64 * 1024


def create_app(settings: Settings, client: redis.Redis, auth: Authenticator) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[_headers, _errors, _signed_in])
    app[CONSOLE] = Console.build(settings, client, auth)
    get, post = app.router.add_get, app.router.add_post
    get("/login", login.login_page)
    post("/login", login.login_submit)
    post("/logout", login.logout)
    get("/healthz", healthz)
    get("/static/console.css", stylesheet)
    get("/favicon.ico", favicon)
    get("/", overview.overview)
    get("/dead-letters", dead_letters.list_page)
    get("/dead-letters/entry/{entry_id}", dead_letters.entry_page)
    for path, confirm, act in (
        ("/dead-letters/entry/{entry_id}/replay", dlq_actions.confirm_replay_entry,
         dlq_actions.replay_entry),
        ("/dead-letters/entry/{entry_id}/purge", dlq_actions.confirm_purge_entry,
         dlq_actions.purge_entry),
        ("/dead-letters/replay", dlq_actions.confirm_replay_selected,
         dlq_actions.replay_selected),
        ("/dead-letters/purge", dlq_actions.confirm_purge_selected,
         dlq_actions.purge_selected),
        ("/accounts/{account_id}/release", accounts.confirm_release_account,
         accounts.release_account),
        ("/apps/{app}/release", accounts.confirm_release_app, accounts.release_app),
    ):
        get(path, confirm)
        post(path, act)
    get("/accounts", accounts.accounts_page)
    get("/lookup", lookup.lookup_page)
    get("/lookup/job", lookup.job_page)
    get("/lookup/pair", lookup.pair_page)
    return app


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.path != "/static/console.css":
        # Pages show live state and who is signed in: never from a cache.
        response.headers["Cache-Control"] = "no-store"
    return response


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return problem_page(request, 404, "Not found", f"Nothing is served at {request.path}.")
    except web.HTTPMethodNotAllowed:
        return problem_page(request, 405, "Method not allowed",
                            f"{request.method} is not served at {request.path}.")
    except web.HTTPRequestEntityTooLarge:
        return problem_page(request, 413, "Too large", "The form is too large.")
    except redis.RedisError as exc:
        return problem_page(request, 503, "Redis is unavailable",
                            f"Redis did not answer ({type(exc).__name__}); try again shortly.")


@web.middleware
async def _signed_in(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every page but PUBLIC needs a login; every POST but the login form's passes the
    Origin, CSRF and scope checks (the login form checks its own token)."""
    if request.path in PUBLIC:
        return await handler(request)
    auth = console(request).auth
    found = auth.identify(request)
    if found is None:
        if request.headers.get("Authorization"):
            response = problem_page(request, 401, "Not signed in",
                                    "That user and password are not accepted.")
            response.headers["WWW-Authenticate"] = 'Basic realm="rtq console"'
            return response
        if request.method == "GET":
            raise web.HTTPSeeOther(url("/login", next=request.path_qs))
        return problem_page(request, 401, "Not signed in", "Sign in first.", back="/login")
    request[IDENTITY] = found
    if request.method not in ("GET", "HEAD"):
        form = await request.post()
        refusal = auth.refusal(request, found, str(form.get("csrf", "")))
        if refusal is not None:
            return problem_page(request, 403, "Refused", refusal)
    return await handler(request)


async def healthz(request: web.Request) -> web.Response:
    try:
        await in_thread(console(request).redis.ping)
    except redis.RedisError:
        return web.json_response({"status": "redis unavailable"}, status=503)
    return web.json_response({"status": "ok"})


async def stylesheet(request: web.Request) -> web.Response:
    response = web.Response(text=CSS, content_type="text/css", charset="utf-8")
    response.headers["Cache-Control"] = "max-age=300"
    return response


async def favicon(request: web.Request) -> web.Response:
    return web.Response(status=204)
