"""The one function that reads X's answers: a result, or an error of the tree drawn in
`worker.core.errors`. Every status, body shape and header rtq relies on is mapped here
(the shapes and where each comes from: docs/x-api.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from worker.core.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    RateInfo,
    RateLimited,
    Unauthorized,
    XError,
    XServerError,
)

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
