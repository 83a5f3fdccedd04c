"""Signing in and out: the login form (a token, or a user and password) and the session
cookie it sets (worker/web/auth.py says how both are protected)."""

from __future__ import annotations

from aiohttp import web

from worker.web.auth import LOGIN_COOKIE, SESSION_COOKIE, safe_next, same_origin
from worker.web.context import console, respond
from worker.web.html import Markup, render

_FORM = """<form method="post" action="/login" class="login">$hidden
<label>Token <input type="password" name="token" autocomplete="off" autofocus></label>
$basic<button type="submit" class="primary">Sign in</button></form>
<p class="hint">A token of RTQ_API_TOKENS$basic_hint. A read-only token (<code>ro:</code>)
shows every page and no action.</p>"""
_BASIC = """<p class="or">or</p>
<label>User <input type="text" name="user" autocomplete="username"></label>
<label>Password <input type="password" name="password" autocomplete="current-password">
</label>"""


def _login_page(request: web.Request, message: str = "", status: int = 200,
                next_path: str | None = None) -> web.Response:
    auth = console(request).auth
    has_basic = any(login.kind == "basic" for login in auth.logins)
    nonce, token = auth.login_form(request)
    hidden = render('<input type="hidden" name="csrf" value="$csrf">'
                    '<input type="hidden" name="next" value="$next">',
                    csrf=token, next=safe_next(next_path or request.query.get("next", "/")))
    body = render(_FORM, hidden=hidden, basic=Markup(_BASIC) if has_basic else "",
                  basic_hint=", or a user and password of RTQ_WEB_BASIC_AUTH" if has_basic
                  else "")
    if message:
        body = render('<p class="error">$m</p>$form', m=message, form=body)
    response = respond(request, "Sign in", body, status=status)
    auth.set_login_cookie(response, request, nonce)
    return response


async def login_page(request: web.Request) -> web.Response:
    return _login_page(request)


async def login_submit(request: web.Request) -> web.StreamResponse:
    auth = console(request).auth
    form = await request.post()
    if not same_origin(request) or not auth.login_form_valid(request, str(form.get("csrf", ""))):
        return _login_page(request, "The sign-in form expired or did not come from this "
                           "console: sign in again.", status=403,
                           next_path=str(form.get("next", "/")))
    next_path = safe_next(str(form.get("next", "/")))
    login = auth.check(str(form.get("token", "")), str(form.get("user", "")),
                       str(form.get("password", "")))
    if login is None:
        # Nothing of what was typed goes back into the page.
        return _login_page(request, "Not accepted: check the token, or the user and password.",
                           status=401, next_path=next_path)
    response = web.HTTPSeeOther(next_path)
    auth.set_session(response, request, login)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(LOGIN_COOKIE, path="/login")
    return response
