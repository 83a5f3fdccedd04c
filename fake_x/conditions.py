"""Conditions: what real X answers when something is wrong at one level, until it is put right.

A condition holds at one level and answers every call it covers the same way, as X does:
- the app (`credits_depleted` 402, `usage_capped` 429, `app_forbidden` 403), for every user of
  one OAuth 1.0a consumer key or OAuth 2.0 client id;
- the account (`account_locked`, `account_suspended` 403), whichever app the user calls through;
- the tweet (`tweet_deleted` 404 for retweet and undo alike);
- X itself (`outage` 5xx, optionally holding each call first), for every call.

x_api.py asks at fixed points: outages before anything but reading the request; app and account
conditions after authentication and before the rate windows (X refuses them without spending the
user's window, but still reports it); deleted tweets with the endpoint's own checks. A condition
with `ends_at` ends by itself when the emulator's clock reaches it. Validation lives in
condition_specs.py; this module is the model and the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

from fake_x import problems

APP_KINDS = ("credits_depleted", "usage_capped", "app_forbidden")
ACCOUNT_KINDS = ("account_locked", "account_suspended")
APP_KEYS = ("consumer_key", "client_id")
# The fields each kind takes besides `kind` and `seconds` (also what its JSON shows).
FIELDS: dict[str, tuple[str, ...]] = {
    "credits_depleted": (*APP_KEYS, "title", "detail", "account_id"),
    "usage_capped": (*APP_KEYS, "period", "account_id"),
    "app_forbidden": (*APP_KEYS, "reason"),
    "account_locked": ("user_id", "form"),
    "account_suspended": ("user_id", "form"),
    "tweet_deleted": ("tweet_id",),
    "outage": ("status", "mode", "delay_seconds"),
}
FORBIDDEN_REASONS = (
    "oauth1-permissions",
    "client-not-enrolled",
    "unsupported-authentication",
    "453",
)
# A read-only app, or one limited to X's free subset, may still read `GET /2/users/me`: these
# two refuse writes only. Not being enrolled or using app-only auth fails every v2 endpoint.
_WRITE_ONLY_REASONS = frozenset({"oauth1-permissions", "453"})
_WRITES = frozenset({"retweet", "undo"})
_PROBLEM, _JSON = problems.PROBLEM_TYPE, problems.JSON_TYPE
_ACCOUNT_BODIES = {
    ("account_locked", "legacy"): (problems.LEGACY_LOCKED_326, _JSON),
    ("account_locked", "v2"): (problems.ACCOUNT_LOCKED, _PROBLEM),
    ("account_suspended", "legacy"): (problems.LEGACY_SUSPENDED_64, _JSON),
    ("account_suspended", "v2"): (problems.ACCOUNT_SUSPENDED, _PROBLEM),
}


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition, with every default already filled in (None: not this kind's field)."""

    kind: str
    id: str = ""  # given by the store
    seconds: float | None = None
    ends_at: float | None = None  # emulator clock; None: until removed
    consumer_key: str | None = None
    client_id: str | None = None
    title: str | None = None
    detail: str | None = None
    account_id: str | None = None
    period: str | None = None
    reason: str | None = None
    user_id: str | None = None
    form: str | None = None
    tweet_id: str | None = None
    status: int | None = None
    mode: str | None = None
    delay_seconds: float | None = None

    @property
    def app_id(self) -> str:
        return self.consumer_key or self.client_id or ""

    def active(self, now: float) -> bool:
        return self.ends_at is None or now < self.ends_at

    def covers(
        self, consumer_key: str | None, client_id: str | None, user_id: str, action: str
    ) -> bool:
        """Whether an authenticated call by this app and user is refused by this condition."""
        if self.kind in ACCOUNT_KINDS:
            return self.user_id == user_id
        if self.kind not in APP_KINDS:
            return False
        if self.reason in _WRITE_ONLY_REASONS and action not in _WRITES:
            return False
        if self.consumer_key is not None:
            return self.consumer_key == consumer_key
        return self.client_id is not None and self.client_id == client_id

    def answer(self) -> tuple[int, bytes, str]:
        """(status, body, content type): X's answer to a call this condition covers."""
        if self.kind == "credits_depleted":
            return 402, problems.credits_depleted(self.title or "", self.detail or ""), _PROBLEM
        if self.kind == "usage_capped":
            return 429, problems.usage_capped(self.account_id or "", self.period or ""), _PROBLEM
        if self.kind == "app_forbidden":
            return self._forbidden()
        if self.kind in ACCOUNT_KINDS:
            return 403, *_ACCOUNT_BODIES[self.kind, self.form or "legacy"]
        if self.kind == "tweet_deleted":
            return 404, problems.tweet_not_found(self.tweet_id or ""), _PROBLEM
        status = self.status or 503
        return status, problems.generic(status), _PROBLEM

    def _forbidden(self) -> tuple[int, bytes, str]:
        if self.reason == "client-not-enrolled":
            return 403, problems.client_not_enrolled(self.app_id), _PROBLEM
        if self.reason == "unsupported-authentication":
            return 403, problems.UNSUPPORTED_AUTHENTICATION, _PROBLEM
        if self.reason == "453":
            return 403, problems.LEGACY_453, _JSON
        return 403, problems.OAUTH1_PERMISSIONS, _PROBLEM

    def to_json(self) -> dict[str, Any]:
        own = {key: getattr(self, key) for key in FIELDS[self.kind]}
        return {
            "id": self.id,
            "kind": self.kind,
            **{key: value for key, value in own.items() if value is not None},
            "seconds": self.seconds,
            "ends_at": self.ends_at,
        }


class Conditions:
    """The conditions in force, oldest first, and the calls an outage is holding."""

    def __init__(self) -> None:
        self._items: dict[str, Condition] = {}
        # Ids keep counting across clears and resets, so a test's stale id never removes
        # a condition another test set.
        self._ids = itertools.count(1)
        self._released: dict[str, asyncio.Event] = {}

    def add(self, condition: Condition) -> Condition:
        """Put `condition` in force under a new id; return it with that id."""
        condition = dataclasses.replace(condition, id=f"c{next(self._ids)}")
        self._items[condition.id] = condition
        return condition

    def active(self, now: float) -> list[Condition]:
        """The conditions in force now; those that have ended are forgotten."""
        ended = [cid for cid, c in self._items.items() if not c.active(now)]
        for cid in ended:
            self._forget(cid)
        return list(self._items.values())

    def outage(self, now: float) -> Condition | None:
        return next((c for c in self.active(now) if c.kind == "outage"), None)

    def refusing(
        self,
        consumer_key: str | None,
        client_id: str | None,
        user_id: str,
        action: str,
        now: float,
    ) -> Condition | None:
        """The app condition, else the account condition, that refuses this call (oldest first
        within a level): an app without credits fails before X looks at the account."""
        in_force = self.active(now)
        covering = [c for c in in_force if c.covers(consumer_key, client_id, user_id, action)]
        covering.sort(key=lambda c: c.kind not in APP_KINDS)  # stable: oldest first per level
        return covering[0] if covering else None

    def tweet_deleted(self, tweet_id: str, now: float) -> bool:
        return any(c.kind == "tweet_deleted" and c.tweet_id == tweet_id for c in self.active(now))

    async def hold(self, condition: Condition) -> None:
        """Hold a call for the outage's `delay_seconds` (real seconds: it stands for a socket
        the client waits on), or until the outage is removed, cleared or found ended."""
        if condition.id not in self._items:  # already removed: nothing to wait for
            return
        released = self._released.setdefault(condition.id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(released.wait(), condition.delay_seconds)

    def remove(self, condition_id: str) -> bool:
        if condition_id not in self._items:
            return False
        self._forget(condition_id)
        return True

    def clear(self) -> None:
        for cid in list(self._items):
            self._forget(cid)

    def _forget(self, condition_id: str) -> None:
        del self._items[condition_id]
        released = self._released.pop(condition_id, None)
        if released is not None:
            released.set()  # calls the outage is holding answer now
