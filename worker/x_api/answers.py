"""The one function that reads X's answers: a result, or an error of the tree drawn in
`worker.core.errors`. Every status, body shape and header rtq relies on is mapped here
(the shapes and where each comes from: docs/x-api.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from worker.core.errors import (
    AccountLocked,
    AccountSuspended,
    AppForbidden,
    CreditsDepleted,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateInfo,
    RateLimited,
    Unauthorized,
    UsageCapped,
    XError,
    XServerError,
)

_MAX_DETAIL = 500
_ALREADY_RETWEETED_CODE = 327
# App-wide 403s: what is wrong with the app, and what to change. Keyed by problem type (the
# last part of `type`), by `reason`, or by legacy code.
_APP_FORBIDDEN = {
    "oauth1-permissions": "the app's permissions do not allow writes, or the tokens were issued "
    "before it had read+write access: set read+write and issue new tokens",
    "client-not-enrolled": "the app is not attached to a Project with v2 access: attach it in "
    "the developer portal",
    "unsupported-authentication": "this endpoint needs user context (OAuth 1.0a or OAuth 2.0 "
    "user tokens), not an app-only bearer token",
    "453": "the app's access level does not include this endpoint: change its plan or level",
    "261": "the app may not write (write-restricted): see the developer portal",
}
# Account-wide 403s (legacy codes, and the words of their v2 problem form).
_LOCKED_CODE, _SUSPENDED_CODE = 326, 64
_USAGE_CAP_TITLE, _USAGE_CAP_TYPE = "UsageCapExceeded", "usage-capped"


@dataclass(frozen=True)
class XAnswer:
    """A successful answer: the retweeted state X reports, and the rate budget it left."""

    retweeted: bool
    http_status: int
    rate: RateInfo


def read_answer(
    status: int, headers: Mapping[str, str], body: bytes, *, rate_window: int = 900,
    undo: bool = False,
) -> XAnswer:
    """Map one answer from X onto a result or the exception tree (`worker.core.errors`).
    `undo`: the call was an undo, whose goal a missing tweet has reached."""
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
    context: dict[str, Any] = {"http_status": status, "rate": rate, "problem_type": problem_type}
    if status == 404 and undo:
        # The tweet is gone, and with it any retweet of it: the undo has reached its goal.
        return XAnswer(retweeted=False, http_status=status, rate=rate)
    if status == 402:
        # Pay-per-use credits or the spending limit ran out: every call of the app fails.
        raise CreditsDepleted(detail, **context)
    if status == 403 and _says_already_retweeted(document):
        return XAnswer(retweeted=True, http_status=status, rate=rate)
    if status == 429:
        if _is_usage_cap(document, problem_type):
            period = document.get("period") if isinstance(document, dict) else None
            until = period_end(period if isinstance(period, str) else None, time.time())
            raise UsageCapped(detail, until=until, **context)
        raise RateLimited(detail, reset_at=_reset_at(headers, rate, rate_window), **context)
    if status == 403:
        raise _forbidden(document, detail, problem_type, context)
    error_class: type[XError]
    if status == 400:
        error_class = InvalidRequest
    elif status == 401:
        error_class = Unauthorized
    elif status == 404:
        error_class = NotFound
    elif status == 408 or status >= 500:
        error_class = XServerError
    elif 400 <= status < 500:
        error_class = InvalidRequest
    else:
        error_class = XServerError
    raise error_class(detail, **context)


def _forbidden(document: Any, detail: str, problem_type: str | None,
               context: dict[str, Any]) -> XError:
    """A 403 at its level: the app, the account, or (otherwise) this tweet."""
    reason = str(document.get("reason")) if isinstance(document, dict) else ""
    codes = _error_codes(document)
    app_hint = (_APP_FORBIDDEN.get(problem_type or "") or _APP_FORBIDDEN.get(reason)
                or next((_APP_FORBIDDEN[str(c)] for c in codes if str(c) in _APP_FORBIDDEN),
                        None))
    if app_hint:
        return AppForbidden(f"{detail[:_MAX_DETAIL - len(app_hint) - 3]} ({app_hint})",
                            **context)
    words = detail.lower()
    if _LOCKED_CODE in codes or "temporarily locked" in words:
        return AccountLocked(detail, **context)
    if _SUSPENDED_CODE in codes or "suspended" in words:
        return AccountSuspended(detail, **context)
    return Forbidden(detail, **context)


def _is_usage_cap(document: Any, problem_type: str | None) -> bool:
    return problem_type == _USAGE_CAP_TYPE or (
        isinstance(document, dict) and document.get("title") == _USAGE_CAP_TITLE)


def period_end(period: str | None, now: float) -> float | None:
    """When a usage cap's period ends (UTC): the next day or month; None for a period we do not
    know (an operator releases it)."""
    moment = datetime.fromtimestamp(now, UTC)
    if period is not None and period.lower() == "daily":
        return (moment.replace(hour=0, minute=0, second=0, microsecond=0)
                + timedelta(days=1)).timestamp()
    if period is not None and period.lower() == "monthly":
        first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return (first.replace(year=first.year + 1, month=1) if first.month == 12
                else first.replace(month=first.month + 1)).timestamp()
    return None


def _error_codes(document: Any) -> list[int]:
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list):
        return []
    return [e["code"] for e in errors if isinstance(e, dict) and isinstance(e.get("code"), int)]


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
