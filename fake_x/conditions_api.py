"""The admin API for conditions: `/_emulator/conditions` (see conditions.py for what they do).

    POST   /_emulator/conditions        {"kind": ..., target, options}  -> 201 the condition
    GET    /_emulator/conditions        -> {"conditions": [...]}, oldest first
    DELETE /_emulator/conditions/{id}   -> {"removed": id}; 404 if there is no such condition
    DELETE /_emulator/conditions        -> {"conditions": []}

`POST /_emulator/reset` clears them too. A malformed condition is a 400 `{"error", "key"}` naming
the field, like `POST /_emulator/config`.
"""

from __future__ import annotations

from aiohttp import web

from fake_x.admin_http import BadRequest, emu_of, read_object
from fake_x.condition_specs import ConditionError, parse_condition


async def add_condition(request: web.Request) -> web.Response:
    emu, data = emu_of(request), await read_object(request)
    try:
        condition = parse_condition(data, emu.clock.now())
    except ConditionError as exc:
        return web.json_response({"error": str(exc), "key": exc.key}, status=400)
    return web.json_response(emu.add_condition(condition).to_json(), status=201)


async def list_conditions(request: web.Request) -> web.Response:
    emu = emu_of(request)
    conditions = [c.to_json() for c in emu.conditions.active(emu.clock.now())]
    return web.json_response({"conditions": conditions})


async def remove_condition(request: web.Request) -> web.Response:
    condition_id = request.match_info["condition_id"]
    if not emu_of(request).conditions.remove(condition_id):
        raise BadRequest(f"no condition {condition_id} (it may have ended)", 404)
    return web.json_response({"removed": condition_id})


async def clear_conditions(request: web.Request) -> web.Response:
    emu_of(request).conditions.clear()
    return web.json_response({"conditions": []})


def routes() -> list[web.RouteDef]:
    return [
        web.post("/conditions", add_condition),
        web.get("/conditions", list_conditions),
        web.delete("/conditions/{condition_id}", remove_condition),
        web.delete("/conditions", clear_conditions),
    ]
