"""Validating what producers are given: actions, ids, tweet URLs, schedules, JSON records."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from producers.errors import InvalidJob
from worker.core.ids import InvalidId, parse_account_id, parse_tweet_id
from worker.domain.messages import ACTIONS

_REQUIRED = ("action", "account_id", "tweet_id")
_OPTIONAL = ("at", "undo_after")
_ALLOWED = frozenset(_REQUIRED + _OPTIONAL)
# How far ahead a job may be scheduled (job records must outlive it: see RTQ_JOB_TTL).
MAX_SCHEDULE_AHEAD = timedelta(days=366)
_DURATION = re.compile(r"(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")


@dataclass(frozen=True)
class JobRequest:
    """A validated job: canonical ids, a known action, and when it is due (None: now)."""

    action: str
    account_id: str
    tweet_id: str
    at: float | None = None
    # Jobs made from one request (a retweet and its undo-after) share a token, so that enqueued
    # together they do not cancel each other; any other later intent for the pair does.
    pair: str = ""

    @classmethod
    def create(cls, action: object, account_id: object, tweet_id: object,
               at: object = None) -> JobRequest:
        if action not in ACTIONS:
            raise InvalidJob("action", f"expected one of {', '.join(ACTIONS)}, got {action!r}")
        try:
            account = parse_account_id(account_id)
        except InvalidId as exc:
            raise InvalidJob("account_id", str(exc)) from None
        try:
            tweet = parse_tweet_id(tweet_id)
        except InvalidId as exc:
            raise InvalidJob("tweet_id", str(exc)) from None
        return cls(str(action), account, tweet, parse_at(at))

    @classmethod
    def from_record(cls, record: object) -> list[JobRequest]:
        """One `rtq enqueue` line (or HTTP job), already parsed from JSON: one job, or two
        with `undo_after` (the retweet now or at `at`, and its undo that long after)."""
        if not isinstance(record, Mapping):
            raise InvalidJob("line", "expected a JSON object")
        # The set test first: sorting every record's keys shows in a 100,000-line enqueue.
        unknown = [] if record.keys() <= _ALLOWED else sorted(
            str(k) for k in record if k not in _ALLOWED)
        if unknown:
            raise InvalidJob(unknown[0], "unknown field (allowed: action, account_id, tweet_id,"
                             " at, undo_after)")
        for name in _REQUIRED:
            if name not in record:
                raise InvalidJob(name, "missing")
        job = cls.create(record["action"], record["account_id"], record["tweet_id"],
                         record.get("at"))
        if record.get("undo_after") is None:
            return [job]
        return job.with_undo_after(record["undo_after"])

    def with_undo_after(self, undo_after: object) -> list[JobRequest]:
        """This retweet, and its undo `undo_after` later (a temporary boost)."""
        if self.action != "retweet":
            raise InvalidJob("undo_after", "only a retweet can be undone after a while")
        delay = parse_duration(undo_after, "undo_after")
        start = self.at if self.at is not None else time.time()
        undo_at = start + delay.total_seconds()
        if undo_at - time.time() > MAX_SCHEDULE_AHEAD.total_seconds():
            raise InvalidJob("undo_after", f"at most {MAX_SCHEDULE_AHEAD.days} days ahead")
        token = uuid.uuid4().hex
        return [replace(self, pair=token), replace(self, action="undo", at=undo_at, pair=token)]

    def as_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"action": self.action, "account_id": self.account_id,
                                  "tweet_id": self.tweet_id}
        if self.at is not None:
            record["at"] = datetime.fromtimestamp(self.at).astimezone().isoformat()
        return record


def parse_at(value: object) -> float | None:
    """When a job is due, as epoch seconds: an ISO-8601 time with an offset (`...Z`), a
    timezone-aware datetime, or None for now. A time already past means now."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidJob("at", "expected an ISO-8601 time such as 2026-12-01T09:00:00Z") \
                from None
    else:
        raise InvalidJob("at", f"expected an ISO-8601 time string, got {type(value).__name__}")
    if moment.tzinfo is None:
        raise InvalidJob("at", "the time needs an offset (Z or +01:00): local times are "
                         "ambiguous")
    epoch = moment.timestamp()
    if epoch - time.time() > MAX_SCHEDULE_AHEAD.total_seconds():
        raise InvalidJob("at", f"at most {MAX_SCHEDULE_AHEAD.days} days ahead")
    return epoch if epoch > time.time() else None


def parse_duration(value: object, field: str) -> timedelta:
    """A positive duration: seconds (int), a timedelta, or text like `24h`, `90m`, `1d12h`."""
    if isinstance(value, timedelta):
        delay = value
    elif isinstance(value, int) and not isinstance(value, bool):
        delay = timedelta(seconds=value)
    elif isinstance(value, str) and value and (match := _DURATION.fullmatch(value.strip())):
        weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        delay = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    else:
        raise InvalidJob(field, f"expected a duration such as 24h, 90m or 1d12h, got {value!r}")
    if delay <= timedelta(0):
        raise InvalidJob(field, "must be positive")
    if delay > MAX_SCHEDULE_AHEAD:
        raise InvalidJob(field, f"at most {MAX_SCHEDULE_AHEAD.days} days")
    return delay
