"""A real `rtq web` process on the suite's Redis, and signing in to it as a browser would
(GET the login form for its CSRF token and cookie, POST it with this host's Origin)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.support import serve, stop_server

FULL_TOKEN = "console-full-t0ken-" + "f" * 16
READ_ONLY_TOKEN = "console-read-t0ken-" + "r" * 16
ADMIN_PASSWORD = "admin-passw0rd-" + "a" * 8
VIEWER_PASSWORD = "viewer-passw0rd-" + "v" * 8
SESSION_KEY = "console-session-key-" + "k" * 24


@dataclass
class Console:
    url: str
    env: dict[str, str]

    def session(self, token: str | None = None, *, user: str | None = None,
                password: str | None = None) -> requests.Session:
        """A requests session signed in through the login form."""
        session = requests.Session()
        session.headers["Origin"] = self.url
        form = session.get(f"{self.url}/login", timeout=5)
        fields = {"csrf": csrf_of(form.text), "next": "/", "token": token or "",
                  "user": user or "", "password": password or ""}
        answer = session.post(f"{self.url}/login", data=fields, timeout=5,
                              allow_redirects=False)
        assert answer.status_code == 303, answer.text
        return session


def csrf_of(page: str) -> str:
    """The CSRF token in a page's forms."""
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None, "no CSRF field on the page"
    return match.group(1)


def start_console(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    return serve("web", env)


stop_console = stop_server


@pytest.fixture(scope="module")
def console(rtq_env: dict[str, str]) -> Iterator[Console]:
    """`rtq web` on the suite's Redis with a full and a read-only token and two basic-auth
    logins (one read-only)."""
    env = {**rtq_env, "RTQ_API_TOKENS": f"{FULL_TOKEN},ro:{READ_ONLY_TOKEN}",
           "RTQ_WEB_BASIC_AUTH": f"admin:{ADMIN_PASSWORD},ro:viewer:{VIEWER_PASSWORD}",
           "RTQ_WEB_SESSION_KEY": SESSION_KEY}
    process, url = start_console(env)
    try:
        yield Console(url, env)
    finally:
        stop_console(process)
