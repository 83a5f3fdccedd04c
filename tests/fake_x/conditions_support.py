"""Helpers for the conditions tests: a second app's users, OAuth 2.0 users, polling the emulator."""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable

import requests

from fake_x import EmulatorAdmin

from .oauth2flow import Bearer, OAuth2App
from .xclient import XUser

RATE_HEADERS = ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset")
_ALNUM = string.ascii_letters + string.digits


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def user_of_new_app(base_url: str, admin: EmulatorAdmin, http: requests.Session) -> XUser:
    """A user of an OAuth 1.0a app of their own (new_account() users share the default app)."""
    user_id = str(10**15 + secrets.randbelow(10**15))
    credentials = {
        "consumer_key": _random(25),
        "consumer_secret": _random(50),
        "access_token": f"{user_id}-{_random(31)}",
        "access_token_secret": _random(45),
    }
    admin.register_account(**credentials)
    return XUser(base_url, {**credentials, "user_id": user_id}, http)


def oauth2_user(
    base_url: str, admin: EmulatorAdmin, http: requests.Session, **authorize: str
) -> tuple[str, Bearer]:
    """A new OAuth 2.0 client and a user who authorized it: (client_id, the user's Bearer)."""
    client_id: str = admin.oauth2_client()["client_id"]
    tokens = OAuth2App(base_url, http, client_id).login(**authorize)
    return client_id, Bearer(base_url, http, tokens["access_token"])


def wait_until(check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Poll the emulator until `check()` holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
