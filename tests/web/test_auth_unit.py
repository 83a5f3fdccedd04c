"""The console's sign-in pieces on their own: session cookies (signed, expiring, tied to a
configured login), basic auth, the per-session CSRF token, and the checks on every POST."""

from __future__ import annotations

import base64

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from worker.core.errors import SettingsError
from worker.core.logins import parse_basic_auth, parse_tokens
from worker.web.auth import SESSION_COOKIE, Authenticator, safe_next, same_origin

KEY = b"k" * 32
LOGINS = parse_tokens("full,ro:viewer") + parse_basic_auth("alice:pw,ro:bob:pw2")


def request(method: str = "GET", path: str = "/", cookie: str | None = None,
            **headers: str) -> web.Request:
    all_headers = {"Host": "console.test", **headers}
    if cookie is not None:
        all_headers["Cookie"] = f"{SESSION_COOKIE}={cookie}"
    return make_mocked_request(method, path, headers=all_headers)


def test_a_session_cookie_names_its_login_until_it_expires() -> None:
    """The cookie carries no secret; it is accepted until its expiry, then not."""
    auth = Authenticator(LOGINS, KEY, ttl=60)
    cookie = auth.session_cookie(LOGINS[1], now=1000.0)
    assert "viewer" not in cookie
    found = auth.identify(request(cookie=cookie), now=1059.0)
    assert found is not None and found.login == LOGINS[1] and found.read_only
    assert auth.identify(request(cookie=cookie), now=1060.0) is None


def test_a_changed_foreign_or_orphaned_cookie_is_refused() -> None:
    """Another signature, another key, or a login no longer configured: no session."""
    auth = Authenticator(LOGINS, KEY)
    cookie = auth.session_cookie(LOGINS[0])
    login_id, nonce, expiry, signature = cookie.split(".")
    assert auth.identify(request(cookie=f"{login_id}.{nonce}.{int(expiry) + 1}.{signature}")) \
        is None
    assert auth.identify(request(cookie=cookie + "0")) is None
    assert auth.identify(request(cookie="garbage")) is None
    assert Authenticator(LOGINS, b"x" * 32).identify(request(cookie=cookie)) is None
    assert Authenticator(LOGINS[1:], KEY).identify(request(cookie=cookie)) is None


def test_each_session_has_its_own_csrf_token() -> None:
    """Two sign-ins of the same login: two tokens; the same cookie: the same token."""
    auth = Authenticator(LOGINS, KEY)
    one, two = auth.session_cookie(LOGINS[0]), auth.session_cookie(LOGINS[0])
    first, again, second = (auth.identify(request(cookie=c)) for c in (one, one, two))
    assert first and again and second
    assert first.csrf == again.csrf != second.csrf


def test_basic_auth_is_checked_against_the_basic_logins_only() -> None:
    """alice:pw signs in; a token as a password, a wrong password or bad base64 do not."""
    auth = Authenticator(LOGINS, KEY)

    def basic(pair: str) -> str:
        return "Basic " + base64.b64encode(pair.encode()).decode()

    found = auth.identify(request(Authorization=basic("alice:pw")))
    assert found is not None and found.label == "alice" and not found.read_only
    for header in (basic("alice:nope"), basic("full"), "Basic !!!", "Bearer full"):
        assert auth.identify(request(Authorization=header)) is None
    assert auth.check("", "bob", "pw2") == LOGINS[3]
    assert auth.check("viewer", "", "") == LOGINS[1]
    assert auth.check("", "bob", "") is None


def test_a_post_needs_this_origin_the_csrf_token_and_a_full_login() -> None:
    """Each check in turn; signing out is the one POST a read-only login may make."""
    auth = Authenticator(LOGINS, KEY)
    full = auth.identify(request(cookie=auth.session_cookie(LOGINS[0])))
    viewer = auth.identify(request(cookie=auth.session_cookie(LOGINS[1])))
    assert full and viewer
    here = {"Origin": "http://console.test"}
    assert auth.refusal(request("POST", "/dead-letters/purge", **here), full, full.csrf) is None
    assert "Origin" in str(auth.refusal(request("POST", "/x"), full, full.csrf))
    assert "Origin" in str(auth.refusal(request("POST", "/x", Origin="http://evil.test"),
                                        full, full.csrf))
    assert "CSRF" in str(auth.refusal(request("POST", "/x", **here), full, ""))
    assert "CSRF" in str(auth.refusal(request("POST", "/x", **here), full, viewer.csrf))
    assert "read-only" in str(auth.refusal(request("POST", "/x", **here), viewer, viewer.csrf))
    assert auth.refusal(request("POST", "/logout", **here), viewer, viewer.csrf) is None


def test_origin_falls_back_to_the_referer() -> None:
    """No Origin: the Referer's host must be this one; neither: refused."""
    assert same_origin(request(Referer="http://console.test/dead-letters"))
    assert not same_origin(request(Referer="http://evil.test/console.test"))
    assert not same_origin(request(Origin="null"))
    assert not same_origin(request())


@pytest.mark.parametrize(("target", "expected"), [
    ("/dead-letters?reason=x", "/dead-letters?reason=x"), ("//evil.test/", "/"),
    ("https://evil.test/", "/"), ("/\\evil.test", "/"), ("", "/")])
def test_after_signing_in_only_a_path_of_the_console(target: str, expected: str) -> None:
    """The `next` of the login form never leads to another site."""
    assert safe_next(target) == expected


def test_settings_errors_name_the_variable() -> None:
    """No login at all, or a short session key: an error naming the variables."""
    with pytest.raises(SettingsError, match="RTQ_API_TOKENS or RTQ_WEB_BASIC_AUTH"):
        Authenticator.from_env({})
    with pytest.raises(SettingsError, match="RTQ_WEB_SESSION_KEY: use at least 32"):
        Authenticator.from_env({"RTQ_API_TOKENS": "t", "RTQ_WEB_SESSION_KEY": "short"})
    auth = Authenticator.from_env({"RTQ_WEB_BASIC_AUTH": "a:b", "RTQ_WEB_SESSION_TTL": "90"})
    assert auth.ttl == 90 and [login.label for login in auth.logins] == ["a"]
