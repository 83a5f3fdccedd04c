"""Signed calls to X's Manage Retweets endpoints (`answers.read_answer` reads what X says).

One `requests.Session` per process (created after fork), one `OAuth1` signer per account
(cached), explicit timeouts. Request headers, signed URLs and credentials are never logged.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import requests
import requests.auth
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth1

from worker.core.errors import (
    Unauthorized,
    XTransportError,
)
from worker.x_api.answers import XAnswer, read_answer
from worker.x_api.credentials import Credentials
from worker.x_api.oauth2 import OAuth2Credentials


class XClient:
    def __init__(
        self,
        base_url: str,
        *,
        default_consumer: tuple[str, str] | None = None,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        rate_window: int = 900,
        pool_size: int = 64,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._default_consumer = default_consumer
        self._timeout = (connect_timeout, read_timeout)
        self._rate_window = rate_window
        self._pool_size = pool_size
        self._session: requests.Session | None = None
        self._session_pid = 0
        self._lock = threading.Lock()
        self._signers: dict[Credentials, OAuth1] = {}

    def set_retweeted(
        self, credentials: Credentials | OAuth2Credentials, account_id: str, tweet_id: str,
        desired: bool,
    ) -> XAnswer:
        """Retweet (desired=True) or undo; returns X's answer or raises an `XError`."""
        signer = self._signer(credentials)
        session = self._session_for_this_process()
        base = f"{self._base_url}/2/users/{account_id}/retweets"
        try:
            if desired:
                response = session.post(
                    base, json={"tweet_id": tweet_id}, auth=signer, timeout=self._timeout
                )
            else:
                response = session.delete(f"{base}/{tweet_id}", auth=signer, timeout=self._timeout)
        except requests.Timeout:
            raise XTransportError(f"no answer from X within {self._timeout[1]:g}s") from None
        except requests.ConnectionError as exc:
            raise XTransportError(f"could not connect to X: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            raise XTransportError(f"request to X failed: {type(exc).__name__}") from None
        return read_answer(
            response.status_code, response.headers, response.content,
            rate_window=self._rate_window,
        )

    def _signer(self, credentials: Credentials | OAuth2Credentials) -> Any:
        if isinstance(credentials, OAuth2Credentials):
            return BearerAuth(credentials.access_token)
        signer = self._signers.get(credentials)
        if signer is not None:
            return signer
        consumer_key, consumer_secret = credentials.consumer_key, credentials.consumer_secret
        if consumer_key is None or consumer_secret is None:
            if self._default_consumer is None:
                raise Unauthorized(
                    "the account has no consumer key and RTQ_CONSUMER_KEY/RTQ_CONSUMER_SECRET "
                    "are not set"
                )
            consumer_key, consumer_secret = self._default_consumer
        signer = OAuth1(
            consumer_key,
            client_secret=consumer_secret,
            resource_owner_key=credentials.access_token,
            resource_owner_secret=credentials.access_token_secret,
            signature_type="AUTH_HEADER",
        )
        with self._lock:
            if len(self._signers) > 10_000:
                self._signers.clear()
            self._signers[credentials] = signer
        return signer

    def _session_for_this_process(self) -> requests.Session:
        # A session made before a prefork fork would share its sockets with the parent.
        pid = os.getpid()
        if self._session is None or self._session_pid != pid:
            with self._lock:
                if self._session is None or self._session_pid != pid:
                    session = requests.Session()
                    # Read the environment once here, not on every call (requests scans every
                    # environment variable for proxies per request while trust_env is on).
                    session.proxies = requests.utils.get_environ_proxies(self._base_url)
                    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get(
                        "CURL_CA_BUNDLE")
                    if bundle:
                        session.verify = bundle
                    session.trust_env = False
                    adapter = HTTPAdapter(
                        pool_connections=4, pool_maxsize=self._pool_size, max_retries=0
                    )
                    session.mount("http://", adapter)
                    session.mount("https://", adapter)
                    self._session, self._session_pid = session, pid
        assert self._session is not None
        return self._session


class BearerAuth(requests.auth.AuthBase):
    """OAuth 2.0 user context: the access token as a bearer token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:  # never show the token
        return "BearerAuth(...)"
