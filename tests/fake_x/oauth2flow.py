"""A bare OAuth 2.0 PKCE client for the emulator tests: plain requests, every step by hand, so a
test can break any one of them."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

REDIRECT_URI = "http://127.0.0.1:8976/callback"
SCOPE = "tweet.read users.read tweet.write offline.access"
TIMEOUT = 10


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636 appendix B)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(location: str) -> dict[str, str]:
    """The parameters of a redirect's query (each given once)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class OAuth2App:
    """One registered client, as the app (rtq) and the user's browser would drive it."""

    base_url: str
    session: requests.Session
    client_id: str
    client_secret: str | None = None
    redirect_uri: str = REDIRECT_URI

    def authorize(
        self, challenge: str, *, scope: str = SCOPE, state: str = "st4te", **extra: str
    ) -> requests.Response:
        """The browser's visit to the authorize page; the redirect is not followed."""
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": scope,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **extra,
        }
        return self.session.get(
            f"{self.base_url}/i/oauth2/authorize",
            params=params,
            allow_redirects=False,
            timeout=TIMEOUT,
        )

    def code(self, **authorize_params: str) -> tuple[str, str]:
        """Authorize with a fresh PKCE pair; return the code and its verifier."""
        verifier, challenge = pkce_pair()
        response = self.authorize(challenge, **authorize_params)
        assert response.status_code == 302, response.text
        params = query_of(response.headers["Location"])
        assert params["state"] == authorize_params.get("state", "st4te")
        return params["code"], verifier

    def token(self, timeout: float = TIMEOUT, **form: str) -> requests.Response:
        """POST /2/oauth2/token: client_id in the body, plus Basic auth if confidential."""
        auth = (self.client_id, self.client_secret) if self.client_secret else None
        return self.session.post(
            f"{self.base_url}/2/oauth2/token",
            data={"client_id": self.client_id, **form},
            auth=auth,
            timeout=timeout,
        )

    def exchange(self, code: str, verifier: str) -> requests.Response:
        return self.token(
            grant_type="authorization_code",
            code=code,
            redirect_uri=self.redirect_uri,
            code_verifier=verifier,
        )

    def refresh(self, refresh_token: str, timeout: float = TIMEOUT) -> requests.Response:
        return self.token(timeout, grant_type="refresh_token", refresh_token=refresh_token)

    def login(self, **authorize_params: str) -> dict[str, Any]:
        """The whole flow; returns the token response."""
        response = self.exchange(*self.code(**authorize_params))
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens


class Bearer:
    """The X API with an OAuth 2.0 user access token."""

    def __init__(self, base_url: str, session: requests.Session, access_token: str) -> None:
        self.base_url = base_url
        self.session = session
        self.headers = {"Authorization": f"Bearer {access_token}"}

    def me(self) -> requests.Response:
        return self.session.get(
            f"{self.base_url}/2/users/me", headers=self.headers, timeout=TIMEOUT
        )

    def retweet(self, user_id: str, tweet_id: str) -> requests.Response:
        return self.session.post(
            f"{self.base_url}/2/users/{user_id}/retweets",
            json={"tweet_id": tweet_id},
            headers=self.headers,
            timeout=TIMEOUT,
        )

    def undo(self, user_id: str, tweet_id: str) -> requests.Response:
        return self.session.delete(
            f"{self.base_url}/2/users/{user_id}/retweets/{tweet_id}",
            headers=self.headers,
            timeout=TIMEOUT,
        )
