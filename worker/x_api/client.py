"""Signed calls to X's Manage Retweets endpoints, and the one function that reads X's answers.

One `requests.Session` per process (created after fork), one `OAuth1` signer per account
(cached), explicit timeouts. Request headers, signed URLs and credentials are never logged.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
import requests.auth
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth1

from worker.core.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    RateInfo,
    RateLimited,
    Unauthorized,
    XError,
    XServerError,
    XTransportError,
)
from worker.x_api.credentials import Credentials
from worker.x_api.oauth2 import OAuth2Credentials

_MAX_DETAIL = 500
_ALREADY_RETWEETED_CODE = 327
# Explanations for 403 problem types whose own text leaves the operator guessing.
_FORBIDDEN_HINTS = {
    "oauth1-permissions": "the app's permissions do not allow writes, or the tokens were issued "
    "before it had read+write access: set read+write and issue new tokens",
    "client-not-enrolled": "the app is not attached to a Project with v2 access",
    "unsupported-authentication": "this endpoint needs user context (OAuth 1.0a), not an "
    "app-only bearer token",
}


@dataclass(frozen=True)
class XAnswer:
    """A successful answer: the retweeted state X reports, and the rate budget it left."""

    retweeted: bool
    http_status: int
    rate: RateInfo


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


def read_answer(
    status: int, headers: Mapping[str, str], body: bytes, *, rate_window: int = 900
) -> XAnswer:
    """Map one answer from X onto a result or the exception tree (`worker.core.errors`)."""
    rate = read_rate(headers)
    document = _json_or_none(body)
    if status in (200, 201):
        data = document.get("data") if isinstance(document, dict) else None
        retweeted = data.get("retweeted") if isinstance(data, dict) else None
        if not isinstance(retweeted, bool):
            raise XServerError("X answered 200 without data.retweeted", http_status=status,
                               rate=rate)
        return XAnswer(retweeted=retweeted, http_status=status, rate=rate)
    detail = _detail(document, status)
    problem_type = _problem_type(document)
    if status == 403 and _says_already_retweeted(document):
        return XAnswer(retweeted=True, http_status=status, rate=rate)
    if status == 429:
        raise RateLimited(detail, reset_at=_reset_at(headers, rate, rate_window),
                          http_status=status, rate=rate, problem_type=problem_type)
    error_class: type[XError]
    if status == 400:
        error_class = InvalidRequest
    elif status == 401:
        error_class = Unauthorized
    elif status == 403:
        error_class = Forbidden
        hint = _FORBIDDEN_HINTS.get(problem_type or "") or _FORBIDDEN_HINTS.get(
            str(document.get("reason")) if isinstance(document, dict) else ""
        )
        if hint:
            detail = f"{detail[:_MAX_DETAIL - len(hint) - 3]} ({hint})"
    elif status == 404:
        error_class = NotFound
    elif status == 408 or status >= 500:
        error_class = XServerError
    elif 400 <= status < 500:
        error_class = InvalidRequest
    else:
        error_class = XServerError
    raise error_class(detail, http_status=status, rate=rate, problem_type=problem_type)


def read_rate(headers: Mapping[str, str]) -> RateInfo:
    return RateInfo(
        limit=_int_header(headers, "x-rate-limit-limit"),
        remaining=_int_header(headers, "x-rate-limit-remaining"),
        reset_at=_float_or_none(_int_header(headers, "x-rate-limit-reset")),
        user_day=_day(headers, "x-user-limit-24hour"),
        app_day=_day(headers, "x-app-limit-24hour"),
    )


def _day(headers: Mapping[str, str], prefix: str
         ) -> tuple[int | None, int | None, float | None] | None:
    reset = _int_header(headers, f"{prefix}-reset")
    if reset is None:
        return None
    return (_int_header(headers, f"{prefix}-limit"), _int_header(headers, f"{prefix}-remaining"),
            float(reset))


def _reset_at(headers: Mapping[str, str], rate: RateInfo, rate_window: int) -> float:
    """When to try again after a 429: the exhausted window's reset, else one window."""
    candidates = []
    for prefix in ("x-user-limit-24hour", "x-app-limit-24hour"):
        if _int_header(headers, f"{prefix}-remaining") == 0:
            reset = _int_header(headers, f"{prefix}-reset")
            if reset is not None:
                candidates.append(float(reset))
    if rate.reset_at is not None and (rate.remaining in (0, None) or not candidates):
        candidates.append(rate.reset_at)
    now = time.time()
    future = [c for c in candidates if c > now]
    return max(future) if future else now + rate_window


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None


def _float_or_none(value: int | None) -> float | None:
    return None if value is None else float(value)


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except (ValueError, RecursionError):
        return None


def _problem_type(document: Any) -> str | None:
    if isinstance(document, dict) and isinstance(document.get("type"), str):
        # Real answers say https://api.twitter.com/2/problems/..., the spec https://api.x.com/...
        return str(document["type"]).rstrip("/").rsplit("/", 1)[-1]
    return None


def _error_messages(document: Any) -> list[str]:
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list):
        return []
    return [str(e["message"]) for e in errors if isinstance(e, dict) and "message" in e]


def _says_already_retweeted(document: Any) -> bool:
    if not isinstance(document, dict):
        return False
    texts = [str(document.get("detail", "")), *_error_messages(document)]
    if any("already retweeted" in text.lower() for text in texts):
        return True
    errors = document.get("errors")
    return isinstance(errors, list) and any(
        isinstance(e, dict) and e.get("code") == _ALREADY_RETWEETED_CODE for e in errors
    )


def _detail(document: Any, status: int) -> str:
    parts: list[str] = []
    if isinstance(document, dict):
        for key in ("detail", "title"):
            if isinstance(document.get(key), str) and document[key]:
                parts.append(document[key])
                break
        parts.extend(m for m in _error_messages(document) if m not in parts)
    text = "; ".join(parts) if parts else f"HTTP {status} from X"
    return text[:_MAX_DETAIL]
