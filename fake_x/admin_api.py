"""The admin API under `/_emulator/`: set up accounts, faults and state; read what happened.

Conditions (`/_emulator/conditions`: credits, caps, app and account refusals, deleted tweets,
outages) have their own module, conditions_api.py.

Unauthenticated by design (the server binds 127.0.0.1 by default). Its answers never carry
secrets, except the one credential set `POST /_emulator/accounts {}` has just generated and the
client secret `POST /_emulator/oauth2/clients` has just registered.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from fake_x.accounts import AccountError, ConsumerConflictError, Credentials
from fake_x.admin_http import (
    BadRequest,
    bad_requests,
    emu_of,
    read_json,
    read_object,
    string_field,
)
from fake_x.conditions_api import routes as condition_routes
from fake_x.config import ConfigError, config_to_json, merge_config
from fake_x.oauth2 import ClientConflictError
from fake_x.script import ScriptError, parse_rule
from fake_x.state import Emulator
from fake_x.x_api import EMULATOR

PREFIX = "/_emulator"


async def add_account(request: web.Request) -> web.Response:
    data, accounts = await read_object(request), emu_of(request).accounts
    if not data:
        return web.json_response(accounts.generate(), status=201)
    try:
        account = accounts.register(
            Credentials.from_json(data), name=data.get("name"), username=data.get("username")
        )
    except ConsumerConflictError as exc:
        raise BadRequest(str(exc), 409) from None
    except AccountError as exc:
        raise BadRequest(str(exc)) from None
    return web.json_response(account.public(), status=201)


async def list_accounts(request: web.Request) -> web.Response:
    return web.json_response({"accounts": emu_of(request).accounts.public()})


async def revoke_account(request: web.Request) -> web.Response:
    user_id = request.match_info["user_id"]
    if not emu_of(request).accounts.revoke(user_id):
        raise BadRequest(f"no account for user {user_id}", 404)
    return web.json_response({"revoked": user_id})


_CLIENT_KEYS = frozenset({"confidential", "client_id", "client_secret", "redirect_uris"})


def _optional_string(data: dict[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else string_field(data, key)


async def add_oauth2_client(request: web.Request) -> web.Response:
    """`{}` a public client; `{"confidential": true}` also a secret; `client_id` and
    `client_secret` register those values; `redirect_uris` makes redirect_uri exact-match."""
    data = await read_object(request)
    unknown = set(data) - _CLIENT_KEYS
    if unknown:
        raise BadRequest(f"unknown key {sorted(unknown)[0]}")
    confidential = data.get("confidential")
    if confidential is not None and not isinstance(confidential, bool):
        raise BadRequest("confidential must be true or false")
    client_id = _optional_string(data, "client_id")
    secret = _optional_string(data, "client_secret")
    if confidential is False and secret is not None:
        raise BadRequest("a public client has no client_secret")
    uris = data.get("redirect_uris", [])
    if not isinstance(uris, list) or not all(isinstance(u, str) and u for u in uris):
        raise BadRequest("redirect_uris must be a list of non-empty strings")
    try:
        client = emu_of(request).oauth2.register_client(
            client_id, secret, bool(confidential) or secret is not None, tuple(uris)
        )
    except ClientConflictError as exc:
        raise BadRequest(str(exc), 409) from None
    body: dict[str, Any] = {"client_id": client.client_id, "confidential": client.confidential}
    if client.secret is not None:
        body["client_secret"] = client.secret
    if client.redirect_uris:
        body["redirect_uris"] = list(client.redirect_uris)
    return web.json_response(body, status=201)


async def list_oauth2_clients(request: web.Request) -> web.Response:
    return web.json_response({"clients": emu_of(request).oauth2.clients()})


async def revoke_oauth2(request: web.Request) -> web.Response:
    """The user revoked the app on x.com: every access and refresh token they granted dies."""
    user_id = string_field(await read_object(request), "user_id")
    revoked = emu_of(request).oauth2.revoke_user(user_id)
    return web.json_response({"revoked": user_id, "tokens": revoked})


async def get_config(request: web.Request) -> web.Response:
    return web.json_response(config_to_json(emu_of(request).config))


async def set_config(request: web.Request) -> web.Response:
    emu, updates = emu_of(request), await read_object(request)
    try:
        emu.configure(merge_config(emu.config, updates), reseed="seed" in updates)
    except ConfigError as exc:
        return web.json_response({"error": str(exc), "key": exc.key}, status=400)
    return web.json_response(config_to_json(emu.config))


async def get_script(request: web.Request) -> web.Response:
    return web.json_response({"rules": emu_of(request).script.to_json()})


async def add_script(request: web.Request) -> web.Response:
    data = await read_json(request)
    raw_rules = data.get("rules") if isinstance(data, dict) else data
    if not isinstance(raw_rules, list):
        raise BadRequest('expected a list of rules (or {"rules": [...]})')
    try:
        rules = [parse_rule(raw) for raw in raw_rules]
    except ScriptError as exc:
        raise BadRequest(str(exc)) from None
    emu = emu_of(request)
    emu.script.extend(rules)  # all or nothing: one bad rule rejects the whole batch
    return web.json_response({"rules": emu.script.to_json()})


async def clear_script(request: web.Request) -> web.Response:
    emu_of(request).script.clear()
    return web.json_response({"rules": []})


async def get_calls(request: web.Request) -> web.Response:
    query = request.query
    try:
        since = int(query.get("since", "0"))
    except ValueError:
        raise BadRequest("since must be an integer sequence number") from None
    calls = emu_of(request).calls.query(
        user_id=query.get("user_id"),
        tweet_id=query.get("tweet_id"),
        action=query.get("action"),
        since=since,
    )
    return web.json_response({"calls": calls})


async def clear_calls(request: web.Request) -> web.Response:
    emu_of(request).calls.clear()
    return web.json_response({"calls": []})


async def get_state(request: web.Request) -> web.Response:
    retweets = emu_of(request).retweets.to_json(request.query.get("user_id"))
    return web.json_response({"retweets": retweets})


async def set_state(request: web.Request) -> web.Response:
    data = await read_object(request)
    user_id, tweet_id = string_field(data, "user_id"), string_field(data, "tweet_id")
    retweeted = data.get("retweeted")
    if not isinstance(retweeted, bool):
        raise BadRequest("retweeted must be true or false")
    changed = emu_of(request).retweets.set(user_id, tweet_id, retweeted)
    return web.json_response({"changed": changed})


async def advance_clock(request: web.Request) -> web.Response:
    advance = (await read_object(request)).get("advance")
    if isinstance(advance, bool) or not isinstance(advance, int | float) or not advance >= 0:
        raise BadRequest("advance must be a number of seconds >= 0")
    return web.json_response({"now": emu_of(request).clock.advance(advance)})


async def get_clock(request: web.Request) -> web.Response:
    return web.json_response({"now": emu_of(request).clock.now()})


async def reset(request: web.Request) -> web.Response:
    accounts = (await read_object(request)).get("accounts", False)
    if not isinstance(accounts, bool):
        raise BadRequest("accounts must be true or false")
    emu_of(request).reset(accounts=accounts)
    return web.json_response({"reset": True, "accounts": accounts})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "in_flight": emu_of(request).in_flight})


def admin_app(emulator: Emulator) -> web.Application:
    """The admin API as a sub-application, mounted at PREFIX by `create_app`."""
    app = web.Application(middlewares=[bad_requests])
    app[EMULATOR] = emulator
    routes = [
        web.post("/accounts", add_account),
        web.get("/accounts", list_accounts),
        web.delete("/accounts/{user_id}", revoke_account),
        web.post("/oauth2/clients", add_oauth2_client),
        web.get("/oauth2/clients", list_oauth2_clients),
        web.post("/oauth2/revoke", revoke_oauth2),
        web.get("/config", get_config),
        web.post("/config", set_config),
        web.get("/script", get_script),
        web.post("/script", add_script),
        web.delete("/script", clear_script),
        web.get("/calls", get_calls),
        web.delete("/calls", clear_calls),
        web.get("/state", get_state),
        web.post("/state", set_state),
        web.get("/clock", get_clock),
        web.post("/clock", advance_clock),
        web.post("/reset", reset),
        web.get("/health", health),
        *condition_routes(),
    ]
    app.add_routes(routes)
    return app
