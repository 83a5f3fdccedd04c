"""The admin API's HTTP plumbing: reading JSON bodies, refusing bad ones, answering errors.

Shared by the modules that serve `/_emulator/` (admin_api.py, conditions_api.py): a handler raises
`BadRequest` and the `bad_requests` middleware turns it into `{"error": "..."}` with its status.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from fake_x.state import Emulator
from fake_x.x_api import EMULATOR


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def error(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def read_json(request: web.Request) -> Any:
    """The request's JSON body; an empty body reads as `{}`."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise BadRequest("request body is not valid JSON") from None


async def read_object(request: web.Request) -> dict[str, Any]:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    return data


def emu_of(request: web.Request) -> Emulator:
    return request.app[EMULATOR]


def string_field(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{key} must be a non-empty string")
    return value


@web.middleware
async def bad_requests(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn `BadRequest` into a JSON error; only installed on the admin sub-application."""
    try:
        response: web.StreamResponse = await handler(request)
    except BadRequest as exc:
        return error(str(exc), exc.status)
    return response
