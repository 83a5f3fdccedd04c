"""Holds above one job: an app X refuses as a whole (credits depleted, a usage cap, app
permissions), and the circuit breaker that pauses every call to X while X itself fails.

settle.lua puts an app on hold (the first job to meet the condition) and counts calls for the
breaker; begin.lua keeps every job of a held app in the app's held list, and parks jobs while
the breaker is open. This module reads those states for operators and releases apps: by hand
(`rtq apps release`) or, for a usage cap whose period has ended, from the mover.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import redis

from worker.core import clock
from worker.core.keys import Keys
from worker.domain import lanes
from worker.domain.scripts import Scripts
from worker.domain.scripts.contract import call_of
from worker.domain.scripts.queueing import ReleaseAppInput, released_apps

log = logging.getLogger("rtq.holds")

APP_REASONS = ("credits_depleted", "usage_capped", "app_forbidden")
BREAKER_STATES = ("closed", "half_open", "open")
# An app id as operators see it (worker.domain.accounts.app_id: 16 hex digits).
_APP_ID = re.compile(r"[0-9a-f]{16}")


def parse_app_id(text: str, default_app: str) -> str:
    """APP as `rtq apps release` and the console take it: an app id, or `default` for
    RTQ_CONSUMER_KEY's app (`default_app`); ValueError otherwise."""
    wanted = text.strip().lower()
    if wanted == "default":
        return default_app
    if not _APP_ID.fullmatch(wanted):
        raise ValueError(f"{text!r} is not an app id (16 hex digits, as `rtq apps list` "
                         "shows, or default)")
    return wanted


@dataclass(frozen=True)
class AppHold:
    app: str
    reason: str
    detail: str
    since: str | None
    until: str | None
    held_jobs: int

    def as_dict(self) -> dict[str, Any]:
        return {"app": self.app, "state": "held", "reason": self.reason, "detail": self.detail,
                "since": self.since, "until": self.until, "held_jobs": self.held_jobs}


@dataclass(frozen=True)
class BreakerStatus:
    state: str
    until: str | None = None
    opened_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "until": self.until, "opened_at": self.opened_at}


class Holds:
    def __init__(self, client: redis.Redis, keys: Keys, queue: str) -> None:
        self._redis = client
        self._keys = keys
        self._queue = queue

    def apps(self) -> list[AppHold]:
        """Every held app, the soonest to end first (those held until released last)."""
        names = self._redis.zrange(self._keys.app_holds, 0, -1)
        pipe = self._redis.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self._keys.app(name))
            pipe.llen(self._keys.app_held(name))
        replies = pipe.execute()
        holds = []
        for name, fields, held in zip(names, replies[::2], replies[1::2], strict=True):
            if fields.get("state") != "held":
                continue
            until = fields.get("until_ms", "")
            holds.append(AppHold(
                app=name, reason=fields.get("reason", ""), detail=fields.get("detail", ""),
                since=fields.get("since"),
                until=clock.iso(int(until) / 1000) if until.isdigit() else None,
                held_jobs=int(held)))
        return holds

    def release_app(self, app: str) -> tuple[int, bool]:
        """Release one app now: (jobs published again, whether it was held)."""
        released, apps = self._release(app)
        if apps:
            log.warning("app %s released by an operator: %d held job(s) go back to the queue",
                        app, released)
        return released, bool(apps)

    def release_ended(self, now: float | None = None) -> int:
        """Release the apps whose hold has ended by itself (the mover calls this)."""
        released, apps = self._release(None, now)
        for app in apps:
            log.warning("app %s: its hold has ended; its held jobs go back to the queue", app)
        return released

    def breaker(self) -> BreakerStatus:
        fields = self._redis.hgetall(self._keys.breaker)
        state = fields.get("state") or "closed"
        until = fields.get("until_ms", "")
        return BreakerStatus(
            state=state if state in BREAKER_STATES else "closed",
            until=clock.iso(int(until) / 1000) if until.isdigit() and state != "closed" else None,
            opened_at=fields.get("opened_at"))

    def _release(self, app: str | None, now: float | None = None) -> tuple[int, tuple[str, ...]]:
        moment = clock.now() if now is None else now
        call = call_of(ReleaseAppInput(
            app_holds=self._keys.app_holds, parked_messages=self._keys.parked_messages,
            released_lane=lanes.lane(self._queue, lanes.RELEASED), now_ms=clock.ms(moment),
            app_key_prefix=self._keys.app(""), job_key_prefix=self._keys.job(""),
            now_iso=clock.iso(moment), released_priority=lanes.RELEASED, app=app,
            age_key=self._keys.age("held_app")))
        return released_apps(Scripts(self._redis).release_app(keys=call.keys, args=call.args))
