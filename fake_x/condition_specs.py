"""Validating a condition posted to `POST /_emulator/conditions` into a `Condition`.

Each error names the offending field (`ConditionError.key`), as the config endpoint does, and
fills in every default, so the condition the admin API echoes back is exactly what the emulator
will apply. Unknown fields are refused rather than ignored: a misspelt `user_id` must not turn
into a condition that silently covers nobody.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from fake_x import problems
from fake_x.conditions import ACCOUNT_KINDS, APP_KINDS, FIELDS, FORBIDDEN_REASONS, Condition

PERIODS = ("Monthly", "Daily")
FORMS = ("legacy", "v2")
OUTAGE_MODES = ("error", "timeout")
DEFAULT_OUTAGE_STATUS = 503
# Longer than any sensible client timeout, so the client gives up first, as it would on X.
DEFAULT_DELAY_SECONDS = 30.0
_ID = re.compile(r"[0-9]{1,19}")


class ConditionError(ValueError):
    """A posted condition is malformed; `key` names the field at fault."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ConditionError(key, "must be a non-empty string")
    return value


def _text(data: Mapping[str, Any], key: str, default: str) -> str:
    value = _optional_text(data, key)
    return default if value is None else value


def _choice(data: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = data.get(key)
    if value is None:
        return choices[0]
    if value not in choices:
        raise ConditionError(key, f"must be one of {', '.join(choices)}")
    return str(value)


def _id(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ConditionError(key, "must be a string of 1 to 19 digits")
    return value


def _number(data: Mapping[str, Any], key: str, *, positive: bool) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    # bool is an int subclass: `true` must not pass as 1.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConditionError(key, "must be a number of seconds")
    if value < 0 or (positive and value == 0):
        raise ConditionError(key, "must be > 0" if positive else "must be >= 0")
    return float(value)


def _app(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The app a condition names: one OAuth 1.0a consumer key or one OAuth 2.0 client id."""
    consumer_key = _optional_text(data, "consumer_key")
    client_id = _optional_text(data, "client_id")
    if consumer_key is not None and client_id is not None:
        raise ConditionError("client_id", "give consumer_key or client_id, not both")
    if consumer_key is None and client_id is None:
        message = f"{kind} needs the app: consumer_key (OAuth 1.0a) or client_id (OAuth 2.0)"
        raise ConditionError("consumer_key", message)
    app_id = consumer_key or client_id or ""
    fields: dict[str, Any] = {"consumer_key": consumer_key, "client_id": client_id}
    if kind == "credits_depleted":
        account_id = _text(data, "account_id", app_id)
        fields["account_id"] = account_id
        fields["title"] = _text(data, "title", "CreditsDepleted")
        fields["detail"] = _text(data, "detail", problems.credits_depleted_detail(account_id))
    elif kind == "usage_capped":
        fields["account_id"] = _text(data, "account_id", app_id)
        fields["period"] = _choice(data, "period", PERIODS)
    else:
        if "reason" not in data:
            raise ConditionError("reason", f"is required: one of {', '.join(FORBIDDEN_REASONS)}")
        fields["reason"] = _choice(data, "reason", FORBIDDEN_REASONS)
    return fields


def _outage(data: Mapping[str, Any]) -> dict[str, Any]:
    status = data.get("status", DEFAULT_OUTAGE_STATUS)
    if isinstance(status, bool) or not isinstance(status, int) or not 500 <= status <= 599:
        raise ConditionError("status", "must be an integer from 500 to 599")
    mode = _choice(data, "mode", OUTAGE_MODES)
    delay = _number(data, "delay_seconds", positive=False)
    if delay is not None and mode != "timeout":
        raise ConditionError("delay_seconds", 'only applies with mode "timeout"')
    if mode == "timeout" and delay is None:
        delay = DEFAULT_DELAY_SECONDS
    return {"status": status, "mode": mode, "delay_seconds": delay}


def parse_condition(data: Mapping[str, Any], now: float) -> Condition:
    """Validate a posted condition; `now` (the emulator's clock) anchors its `seconds`."""
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in FIELDS:
        raise ConditionError("kind", f"must be one of {', '.join(FIELDS)}")
    for key in data:
        if key not in ("kind", "seconds", *FIELDS[kind]):
            takes = ", ".join((*FIELDS[kind], "seconds"))
            raise ConditionError(key, f"is not a field of {kind} (it takes {takes})")
    if kind in APP_KINDS:
        fields = _app(kind, data)
    elif kind in ACCOUNT_KINDS:
        fields = {"user_id": _id(data, "user_id"), "form": _choice(data, "form", FORMS)}
    elif kind == "tweet_deleted":
        fields = {"tweet_id": _id(data, "tweet_id")}
    else:
        fields = _outage(data)
    seconds = _number(data, "seconds", positive=True)
    ends_at = None if seconds is None else now + seconds
    return Condition(kind=kind, seconds=seconds, ends_at=ends_at, **fields)
