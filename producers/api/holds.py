"""Accounts and held apps, as `rtq accounts list --json` / `rtq accounts release` and
`rtq apps list --json` / `rtq apps release` have them, through the same calls
(`AccountStore.list` / `release`, `Holds.apps` / `release_app` with `parse_app_id`)."""

from __future__ import annotations

from aiohttp import web

from producers.api.base import Problem, Route, api, in_thread, invalid, record
from producers.api.schema import ID, json_response, obj, path, problem_response, ref
from worker.core.ids import InvalidId, parse_account_id
from worker.domain.holds import parse_app_id


async def list_accounts(request: web.Request) -> web.Response:
    infos = await in_thread(api(request).accounts.list)
    return web.json_response({"accounts": [info.as_dict() for info in infos]})


async def release_account(request: web.Request) -> web.Response:
    try:
        account_id = parse_account_id(request.match_info["account_id"])
    except InvalidId as exc:
        raise invalid("account_id", str(exc)) from None
    released = await in_thread(api(request).accounts.release, account_id)
    if released is None:
        raise Problem(404, "Not Found", f"account_id: unknown account {account_id}",
                      errors=[{"field": "account_id", "reason": "unknown account"}])
    await in_thread(record, request, "accounts.release", account_id, released)
    return web.json_response({"account_id": account_id, "released": released})


async def list_apps(request: web.Request) -> web.Response:
    state = api(request)
    holds = await in_thread(state.holds.apps)
    return web.json_response({"apps": [{**hold.as_dict(), "default": hold.app == state.default_app}
                                       for hold in holds]})


async def release_app(request: web.Request) -> web.Response:
    state = api(request)
    try:
        app = parse_app_id(request.match_info["app"], state.default_app)
    except ValueError as exc:
        raise invalid("app", str(exc)) from None
    released, was_held = await in_thread(state.holds.release_app, app)
    if not was_held and not released:
        raise Problem(409, "Not Held", f"app: app {app} is not held (GET /v1/apps lists the "
                      "held apps)", errors=[{"field": "app", "reason": "not held"}])
    await in_thread(record, request, "apps.release", app, released)
    return web.json_response({"app": app, "released": released})


_APP = {"type": "string", "pattern": "^([0-9a-f]{16}|default)$", "example": "default"}
_RELEASED = {"type": "integer", "description": "Held jobs sent back to the queue."}

ROUTES = (
    Route("GET", "/v1/accounts", list_accounts, {
        "summary": "Accounts, never their secrets: state, app, rate limit, budgets, held jobs "
                   "(`rtq accounts list --json`)",
        "tags": ["accounts"],
        "responses": {"200": json_response("The accounts.", obj(["accounts"], {
            "accounts": {"type": "array", "items": ref("Account")}}))},
    }),
    Route("POST", "/v1/accounts/{account_id}/release", release_account, {
        "summary": "Make a locked or suspended (or needs_reauth) account active again once X "
                   "accepts it: its held jobs go back to the queue (`rtq accounts release`)",
        "tags": ["accounts"],
        "parameters": [path("account_id", ID, "The account's id.")],
        "responses": {
            "200": json_response("Released.", obj(["account_id", "released"], {
                "account_id": {"type": "string"}, "released": _RELEASED})),
            "400": problem_response("Not an account id."),
            "404": problem_response("Unknown account."),
        },
    }),
    Route("GET", "/v1/apps", list_apps, {
        "summary": "The apps X refuses as a whole, why, until when, and their held jobs "
                   "(`rtq apps list --json`)",
        "tags": ["accounts"],
        "responses": {"200": json_response("The held apps.", obj(["apps"], {
            "apps": {"type": "array", "items": ref("AppHold")}}))},
    }),
    Route("POST", "/v1/apps/{app}/release", release_app, {
        "summary": "Let a held app call X again: its held jobs go back to the queue "
                   "(`rtq apps release`)",
        "tags": ["accounts"],
        "parameters": [path("app", _APP, "The app's id as GET /v1/apps lists it, or "
                                          "`default` (RTQ_CONSUMER_KEY's app).")],
        "responses": {
            "200": json_response("Released.", obj(["app", "released"], {
                "app": {"type": "string"}, "released": _RELEASED})),
            "400": problem_response("Not an app id."),
            "409": problem_response("The app is not held."),
        },
    }),
)
