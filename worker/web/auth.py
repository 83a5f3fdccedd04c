"""Who is using the console, and whether a request may change anything.

A person signs in on /login with a token of RTQ_API_TOKENS or a user and password of
RTQ_WEB_BASIC_AUTH (worker/core/logins.py: `ro:` marks a read-only one), and gets a session
cookie: `<login id>.<nonce>.<expiry>.<signature>`, HMAC-SHA256 signed with the session key,
HttpOnly, SameSite=Strict, with an expiry (RTQ_WEB_SESSION_TTL). The login id is an HMAC of
the secret, so the cookie names a login without carrying it, and a session ends when its login
leaves the configuration. Scripts may send `Authorization: Basic` instead.

Every POST is checked three ways before its handler runs: the Origin (or Referer) is this
host; the form's `csrf` field is the session's token (an HMAC of the session's nonce); and the
login is not read-only (sign-out excepted). The login form carries a token of its own, tied to
a short-lived cookie, so nobody can sign a browser in as someone else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from worker.core.env import EnvReader
from worker.core.errors import SettingsError
from worker.core.logins import Login, basic_auth_from_env, find, tokens_from_env

SESSION_COOKIE = "rtq_session"
LOGIN_COOKIE = "rtq_login"
SESSION_KEY_VARIABLE = "RTQ_WEB_SESSION_KEY"
SESSION_TTL_VARIABLE = "RTQ_WEB_SESSION_TTL"
DEFAULT_SESSION_TTL = 8 * 3600
LOGIN_FORM_TTL = 600
# POSTs a read-only login may make: only signing out changes nothing in rtq.
READ_ONLY_POSTS = frozenset({"/logout"})


@dataclass(frozen=True)
class Identity:
    """A signed-in login and the CSRF token its forms carry."""

    login: Login
    csrf: str

    @property
    def read_only(self) -> bool:
        return self.login.read_only

    @property
    def label(self) -> str:
        return self.login.label


class Authenticator:
    def __init__(self, logins: tuple[Login, ...], key: bytes, *,
                 ttl: int = DEFAULT_SESSION_TTL, secure_cookies: bool = False) -> None:
        if not logins:
            raise SettingsError("rtq web: set RTQ_API_TOKENS or RTQ_WEB_BASIC_AUTH (at least "
                                "one login) to serve the console")
        self.logins = logins
        self._key = key
        self.ttl = ttl
        self.secure_cookies = secure_cookies
        self._by_id = {self._login_id(login): login for login in logins}

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, secure_cookies: bool = False) -> Authenticator:
        reader = EnvReader(env)
        raw_key = reader.optional(SESSION_KEY_VARIABLE)
        if raw_key is not None and len(raw_key) < 32:
            raise SettingsError(f"{SESSION_KEY_VARIABLE}: use at least 32 random characters")
        # No key set: a random one, so sessions end when the process does (one replica).
        key = raw_key.encode() if raw_key is not None else os.urandom(32)
        return cls(tokens_from_env(env) + basic_auth_from_env(env), key,
                   ttl=reader.positive_int(SESSION_TTL_VARIABLE, DEFAULT_SESSION_TTL),
                   secure_cookies=secure_cookies)

    def _mac(self, *parts: str | bytes) -> str:
        message = b"|".join(p.encode() if isinstance(p, str) else p for p in parts)
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def _login_id(self, login: Login) -> str:
        return self._mac("login", login.kind, login.secret)[:24]

    # Signing in and out.

    def check(self, token: str, user: str, password: str) -> Login | None:
        """The login a form's fields name: a token, or else a user and password."""
        if token:
            return find(token.strip().encode(), self.logins, "token")
        if user and password:
            return find(f"{user}:{password}".encode(), self.logins, "basic")
        return None

    def session_cookie(self, login: Login, now: float | None = None) -> str:
        expiry = int((time.time() if now is None else now) + self.ttl)
        payload = f"{self._login_id(login)}.{secrets.token_hex(16)}.{expiry}"
        return f"{payload}.{self._mac('session', payload)}"

    def set_session(self, response: web.StreamResponse, request: web.Request,
                    login: Login) -> None:
        response.set_cookie(SESSION_COOKIE, self.session_cookie(login), max_age=self.ttl,
                            path="/", httponly=True, samesite="Strict",
                            secure=self._secure(request))
        response.del_cookie(LOGIN_COOKIE, path="/login")

    def _secure(self, request: web.Request) -> bool:
        return self.secure_cookies or request.secure

    def login_form(self, request: web.Request) -> tuple[str, str]:
        """(nonce, token) of the login form: the token is its CSRF field, the nonce goes in
        a short-lived cookie (kept if the browser has one, so two open login pages both
        work)."""
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if len(nonce) != 32 or not all(c in "0123456789abcdef" for c in nonce):
            nonce = secrets.token_hex(16)
        return nonce, self._mac("login-form", nonce)

    def set_login_cookie(self, response: web.StreamResponse, request: web.Request,
                         nonce: str) -> None:
        response.set_cookie(LOGIN_COOKIE, nonce, max_age=LOGIN_FORM_TTL, path="/login",
                            httponly=True, samesite="Strict", secure=self._secure(request))

    def login_form_valid(self, request: web.Request, presented: str) -> bool:
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        return bool(nonce) and hmac.compare_digest(presented.encode(),
                                                   self._mac("login-form", nonce).encode())

    # Recognising a request.

    def identify(self, request: web.Request, now: float | None = None) -> Identity | None:
        header = request.headers.get("Authorization", "")
        if header:
            return self._from_basic(header)
        return self._from_cookie(request.cookies.get(SESSION_COOKIE, ""), now)

    def _from_cookie(self, value: str, now: float | None) -> Identity | None:
        payload, _, signature = value.rpartition(".")
        if not payload or not hmac.compare_digest(signature.encode(),
                                                  self._mac("session", payload).encode()):
            return None
        parts = payload.split(".")
        if len(parts) != 3:
            return None
        login_id, nonce, expiry = parts
        login = self._by_id.get(login_id)
        if login is None or not expiry.isdigit():
            return None
        if int(expiry) <= (time.time() if now is None else now):
            return None
        return Identity(login, self._mac("csrf", "session", nonce))

    def _from_basic(self, header: str) -> Identity | None:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            pair = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        login = find(pair, self.logins, "basic")
        if login is None:
            return None
        return Identity(login, self._mac("csrf", "basic", self._login_id(login)))

    # Checking a POST.

    def refusal(self, request: web.Request, identity: Identity, csrf: str) -> str | None:
        """Why this POST is refused (403), or None: it may go on."""
        if not same_origin(request):
            return "this request did not come from the console's own pages (Origin)"
        if not csrf or not hmac.compare_digest(csrf.encode(), identity.csrf.encode()):
            return "the form's CSRF token is missing or wrong: reload the page and try again"
        if identity.read_only and request.path not in READ_ONLY_POSTS:
            return f"{identity.label} is a read-only login: it cannot change anything"
        return None


def same_origin(request: web.Request) -> bool:
    """The POST came from a page of this host: its Origin (or, without one, its Referer) names
    the host the request was sent to. Browsers send Origin on every form POST; a request with
    neither is no browser's form and is refused too."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source or source == "null":
        return False
    return urlsplit(source).netloc.lower() == request.host.lower()


def safe_next(target: str) -> str:
    """Where to go after signing in: a path of this console, never another site."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
