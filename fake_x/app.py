"""Assemble the emulator's aiohttp application: X API routes plus the admin sub-application."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from fake_x import problems
from fake_x.admin_api import PREFIX, admin_app
from fake_x.config import EmulatorConfig
from fake_x.oauth2_api import add_routes as add_oauth2_routes
from fake_x.state import Emulator
from fake_x.x_api import EMULATOR, add_routes

log = logging.getLogger(__name__)


def _problem(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type=problems.PROBLEM_TYPE)


@web.middleware
async def x_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Answer unknown routes and unexpected errors the way X would, and keep serving.

    Any method or path X does not serve here is a 404, logged as a call (action "other") so a
    test can see a client that went astray; the admin API says what went wrong instead. The log
    line for a crash names the route only, never headers or bodies.
    """
    try:
        response: web.StreamResponse = await handler(request)
    except ConnectionResetError:
        # The client went away mid-request (a killed worker): nobody will read an answer, and
        # nothing is wrong with the emulator, so no traceback.
        return web.Response(status=499)
    except web.HTTPException as exc:
        if exc.status not in (404, 405):
            raise
        if request.path.startswith(PREFIX + "/"):
            message = f"no admin endpoint {request.method} {request.path}"
            return web.json_response({"error": message}, status=exc.status)
        emu = request.app[EMULATOR]
        emu.calls.record(
            time=emu.clock.now(),
            method=request.method,
            path=request.path,
            action="other",
            user_id=None,
            tweet_id=None,
            status=404,
            changed=False,
            rate_remaining=None,
        )
        return _problem(404, problems.ROUTE_NOT_FOUND)
    except Exception:
        log.exception("unhandled error serving %s %s", request.method, request.path)
        return _problem(500, problems.generic(500))
    return response


def create_app(config: EmulatorConfig | None = None) -> web.Application:
    """A fresh emulator (no accounts, no retweets) serving the X API and `/_emulator/`."""
    emulator = Emulator(config or EmulatorConfig())
    app = web.Application(middlewares=[x_errors])
    app[EMULATOR] = emulator
    add_routes(app)
    add_oauth2_routes(app)
    app.add_subapp(PREFIX, admin_app(emulator))
    return app


def emulator_of(app: web.Application) -> Emulator:
    """The state behind an app built by `create_app` (for in-process setup, e.g. --accounts)."""
    return app[EMULATOR]
