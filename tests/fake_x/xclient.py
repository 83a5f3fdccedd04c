"""A tiny X API client for the emulator tests: requests + requests-oauthlib, like the worker."""

from __future__ import annotations

from typing import Any

import requests
from requests_oauthlib import OAuth1


class XUser:
    """One account's view of the X API, signing every request with OAuth 1.0a (HMAC-SHA1)."""

    def __init__(self, base_url: str, credentials: dict[str, Any], session: requests.Session):
        self.base_url = base_url
        self.credentials = credentials
        self.user_id: str = credentials["user_id"]
        self.session = session

    def auth(self, **oauth_kwargs: Any) -> OAuth1:
        c = self.credentials
        return OAuth1(
            c["consumer_key"],
            c["consumer_secret"],
            c["access_token"],
            c["access_token_secret"],
            **oauth_kwargs,
        )

    def prepare(self, method: str, path: str, **kwargs: Any) -> requests.PreparedRequest:
        """A signed request, for tests that tamper with it or send it twice."""
        auth = kwargs.pop("auth", None) or self.auth()
        request = requests.Request(method, self.base_url + path, auth=auth, **kwargs)
        return self.session.prepare_request(request)

    def send(self, prepared: requests.PreparedRequest) -> requests.Response:
        return self.session.send(prepared, timeout=10)

    def retweet(self, tweet_id: str, *, user_id: str | None = None, **kw: Any) -> requests.Response:
        path = f"/2/users/{user_id or self.user_id}/retweets"
        return self.send(self.prepare("POST", path, json={"tweet_id": tweet_id}, **kw))

    def undo(self, tweet_id: str, *, user_id: str | None = None, **kw: Any) -> requests.Response:
        path = f"/2/users/{user_id or self.user_id}/retweets/{tweet_id}"
        return self.send(self.prepare("DELETE", path, **kw))

    def me(self, **kw: Any) -> requests.Response:
        return self.send(self.prepare("GET", "/2/users/me", **kw))

    def post_raw(self, body: bytes, content_type: str = "application/json") -> requests.Response:
        """A retweet with an arbitrary body (sent as-is, never signed as form data)."""
        path = f"/2/users/{self.user_id}/retweets"
        headers = {"Content-Type": content_type}
        return self.send(self.prepare("POST", path, data=body, headers=headers))
