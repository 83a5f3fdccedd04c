"""The admin API under `/_emulator/`: set up accounts, faults and state; read what happened.

Unauthenticated by design (the server binds 127.0.0.1 by default). Its answers never carry
secrets, except the one credential set `POST /_emulator/accounts {}` has just generated and the
client secret `POST /_emulator/oauth2/clients` has just registered.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from fake_x.accounts import AccountError, ConsumerConflictError, Credentials
from fake_x.config import ConfigError, config_to_json, merge_config
from fake_x.oauth2 import ClientConflictError
from fake_x.script import ScriptError, parse_rule
from fake_x.state import Emulator
from fake_x.x_api import EMULATOR

PREFIX = "/_emulator"


class _BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _error(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _json(request: web.Request) -> Any:
    """The request's JSON body; an empty body reads as `{}`."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise _BadRequest("request body is not valid JSON") from None


async def _object(request: web.Request) -> dict[str, Any]:
    data = await _json(request)
    if not isinstance(data, dict):
        raise _BadRequest("request body must be a JSON object")
    return data


def _emu(request: web.Request) -> Emulator:
    return request.app[EMULATOR]


def _string(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise _BadRequest(f"{key} must be a non-empty string")
    return value


async def add_account(request: web.Request) -> web.Response:
    data, accounts = await _object(request), _emu(request).accounts
    if not data:
        return web.json_response(accounts.generate(), status=201)
    try:
        account = accounts.register(
            Credentials.from_json(data), name=data.get("name"), username=data.get("username")
        )
    except ConsumerConflictError as exc:
        raise _BadRequest(str(exc), 409) from None
    except AccountError as exc:
        raise _BadRequest(str(exc)) from None
    return web.json_response(account.public(), status=201)


async def list_accounts(request: web.Request) -> web.Response:
    return web.json_response({"accounts": _emu(request).accounts.public()})


async def revoke_account(request: web.Request) -> web.Response:
    user_id = request.match_info["user_id"]
    if not _emu(request).accounts.revoke(user_id):
        raise _BadRequest(f"no account for user {user_id}", 404)
    return web.json_response({"revoked": user_id})


_CLIENT_KEYS = frozenset({"confidential", "client_id", "client_secret", "redirect_uris"})


def _optional_string(data: dict[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else _string(data, key)


async def add_oauth2_client(request: web.Request) -> web.Response:
    """`{}` a public client; `{"confidential": true}` also a secret; `client_id` and
    `client_secret` register those values; `redirect_uris` makes redirect_uri exact-match."""
    data = await _object(request)
    unknown = set(data) - _CLIENT_KEYS
    if unknown:
        raise _BadRequest(f"unknown key {sorted(unknown)[0]}")
    confidential = data.get("confidential")
    if confidential is not None and not isinstance(confidential, bool):
        raise _BadRequest("confidential must be true or false")
    client_id = _optional_string(data, "client_id")
    secret = _optional_string(data, "client_secret")
    if confidential is False and secret is not None:
        raise _BadRequest("a public client has no client_secret")
    uris = data.get("redirect_uris", [])
    if not isinstance(uris, list) or not all(isinstance(u, str) and u for u in uris):
        raise _BadRequest("redirect_uris must be a list of non-empty strings")
    try:
        client = _emu(request).oauth2.register_client(
            client_id, secret, bool(confidential) or secret is not None, tuple(uris)
        )
    except ClientConflictError as exc:
        raise _BadRequest(str(exc), 409) from None
    body: dict[str, Any] = {"client_id": client.client_id, "confidential": client.confidential}
    if client.secret is not None:
        body["client_secret"] = client.secret
    if client.redirect_uris:
        body["redirect_uris"] = list(client.redirect_uris)
    return web.json_response(body, status=201)


async def list_oauth2_clients(request: web.Request) -> web.Response:
    return web.json_response({"clients": _emu(request).oauth2.clients()})


async def revoke_oauth2(request: web.Request) -> web.Response:
    """The user revoked the app on x.com: every access and refresh token they granted dies."""
    user_id = _string(await _object(request), "user_id")
    revoked = _emu(request).oauth2.revoke_user(user_id)
    return web.json_response({"revoked": user_id, "tokens": revoked})


async def get_config(request: web.Request) -> web.Response:
    return web.json_response(config_to_json(_emu(request).config))


async def set_config(request: web.Request) -> web.Response:
    emu, updates = _emu(request), await _object(request)
    try:
        emu.configure(merge_config(emu.config, updates), reseed="seed" in updates)
    except ConfigError as exc:
        return web.json_response({"error": str(exc), "key": exc.key}, status=400)
    return web.json_response(config_to_json(emu.config))


async def get_script(request: web.Request) -> web.Response:
    return web.json_response({"rules": _emu(request).script.to_json()})


async def add_script(request: web.Request) -> web.Response:
    data = await _json(request)
    raw_rules = data.get("rules") if isinstance(data, dict) else data
    if not isinstance(raw_rules, list):
        raise _BadRequest('expected a list of rules (or {"rules": [...]})')
    try:
        rules = [parse_rule(raw) for raw in raw_rules]
    except ScriptError as exc:
        raise _BadRequest(str(exc)) from None
    emu = _emu(request)
    emu.script.extend(rules)  # all or nothing: one bad rule rejects the whole batch
    return web.json_response({"rules": emu.script.to_json()})


async def clear_script(request: web.Request) -> web.Response:
    _emu(request).script.clear()
    return web.json_response({"rules": []})


async def get_calls(request: web.Request) -> web.Response:
    query = request.query
    try:
        since = int(query.get("since", "0"))
    except ValueError:
        raise _BadRequest("since must be an integer sequence number") from None
    calls = _emu(request).calls.query(
        user_id=query.get("user_id"),
        tweet_id=query.get("tweet_id"),
        action=query.get("action"),
        since=since,
    )
    return web.json_response({"calls": calls})


async def clear_calls(request: web.Request) -> web.Response:
    _emu(request).calls.clear()
    return web.json_response({"calls": []})


async def get_state(request: web.Request) -> web.Response:
    retweets = _emu(request).retweets.to_json(request.query.get("user_id"))
    return web.json_response({"retweets": retweets})


async def set_state(request: web.Request) -> web.Response:
    data = await _object(request)
    user_id, tweet_id = _string(data, "user_id"), _string(data, "tweet_id")
    retweeted = data.get("retweeted")
    if not isinstance(retweeted, bool):
        raise _BadRequest("retweeted must be true or false")
    changed = _emu(request).retweets.set(user_id, tweet_id, retweeted)
    return web.json_response({"changed": changed})


async def advance_clock(request: web.Request) -> web.Response:
    advance = (await _object(request)).get("advance")
    if isinstance(advance, bool) or not isinstance(advance, int | float) or not advance >= 0:
        raise _BadRequest("advance must be a number of seconds >= 0")
    return web.json_response({"now": _emu(request).clock.advance(advance)})


async def get_clock(request: web.Request) -> web.Response:
    return web.json_response({"now": _emu(request).clock.now()})


async def reset(request: web.Request) -> web.Response:
    accounts = (await _object(request)).get("accounts", False)
    if not isinstance(accounts, bool):
        raise _BadRequest("accounts must be true or false")
    _emu(request).reset(accounts=accounts)
    return web.json_response({"reset": True, "accounts": accounts})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "in_flight": _emu(request).in_flight})


@web.middleware
async def bad_requests(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn `_BadRequest` into a JSON error; only installed on the admin sub-application."""
    try:
        response: web.StreamResponse = await handler(request)
    except _BadRequest as exc:
        return _error(str(exc), exc.status)
    return response


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
    ]
    app.add_routes(routes)
    return app
