"""Validating what producers are given: actions, ids, tweet URLs, schedules, deadlines, JSON
records."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from producers.errors import InvalidJob
from worker.core.durations import parse_duration_text
from worker.core.ids import InvalidId, parse_account_id, parse_tweet_id
from worker.domain.messages import ACTIONS

_REQUIRED = ("action", "account_id", "tweet_id")
_OPTIONAL = ("at", "undo_after", "expires_at", "max_delay")
_ALLOWED = frozenset(_REQUIRED + _OPTIONAL)
# How far ahead a job may be scheduled (job records must outlive it: see RTQ_JOB_TTL).
MAX_SCHEDULE_AHEAD = timedelta(days=366)


@dataclass(frozen=True)
class JobRequest:
    """A validated job: canonical ids, a known action, when it is due (None: now), and its
    deadline, if it has one: `expires_at` (epoch seconds) or `max_delay` (seconds after it is
    due, counted when it is enqueued). A job not started by its deadline ends `expired`."""

    action: str
    account_id: str
    tweet_id: str
    at: float | None = None
    # Jobs made from one request (a retweet and its undo-after) share a token, so that enqueued
    # together they do not cancel each other; any other later intent for the pair does.
    pair: str = ""
    expires_at: float | None = None
    max_delay: float | None = None

    @classmethod
    def create(cls, action: object, account_id: object, tweet_id: object,
               at: object = None, *, expires_at: object = None,
               max_delay: object = None) -> JobRequest:
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
        due = parse_at(at)
        deadline, delay = parse_deadline(expires_at, max_delay, due)
        return cls(str(action), account, tweet, due, expires_at=deadline, max_delay=delay)

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
                             " at, undo_after, expires_at, max_delay)")
        for name in _REQUIRED:
            if name not in record:
                raise InvalidJob(name, "missing")
        job = cls.create(record["action"], record["account_id"], record["tweet_id"],
                         record.get("at"), expires_at=record.get("expires_at"),
                         max_delay=record.get("max_delay"))
        if record.get("undo_after") is None:
            return [job]
        return job.with_undo_after(record["undo_after"])

    def with_undo_after(self, undo_after: object) -> list[JobRequest]:
        """This retweet, and its undo `undo_after` later (a temporary boost). The undo keeps a
        `max_delay` (counted from its own due time) but not an `expires_at`: a deadline before
        it is due would only expire it."""
        if self.action != "retweet":
            raise InvalidJob("undo_after", "only a retweet can be undone after a while")
        delay = parse_duration(undo_after, "undo_after")
        start = self.at if self.at is not None else time.time()
        undo_at = start + delay.total_seconds()
        if undo_at - time.time() > MAX_SCHEDULE_AHEAD.total_seconds():
            raise InvalidJob("undo_after", f"at most {MAX_SCHEDULE_AHEAD.days} days ahead")
        token = uuid.uuid4().hex
        return [replace(self, pair=token),
                replace(self, action="undo", at=undo_at, pair=token, expires_at=None)]

    def deadline(self, now: float, default_delay: int | None = None) -> float | None:
        """When this job expires if not started (epoch seconds): its `expires_at`, else its
        due time (`now` for a job due now) plus its `max_delay` or, failing that,
        `default_delay` (RTQ_JOB_MAX_DELAY); None when it has no deadline."""
        if self.expires_at is not None:
            return self.expires_at
        delay = self.max_delay if self.max_delay is not None else default_delay
        if delay is None:
            return None
        return (self.at if self.at is not None else now) + delay

    def with_deadline_from(self, now: float, default_delay: int | None = None) -> JobRequest:
        """This job with its deadline fixed as of `now` (an `expires_at`), so that a caller
        can tell its client the deadline the job is enqueued with."""
        deadline = self.deadline(now, default_delay)
        return self if deadline is None else replace(self, expires_at=deadline, max_delay=None)

    def as_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"action": self.action, "account_id": self.account_id,
                                  "tweet_id": self.tweet_id}
        if self.at is not None:
            record["at"] = datetime.fromtimestamp(self.at).astimezone().isoformat()
        if self.expires_at is not None:
            record["expires_at"] = datetime.fromtimestamp(self.expires_at).astimezone().isoformat()
        if self.max_delay is not None:
            record["max_delay"] = int(self.max_delay)
        return record


def parse_at(value: object) -> float | None:
    """When a job is due, as epoch seconds: an ISO-8601 time with an offset (`...Z`), a
    timezone-aware datetime, or None for now. A time already past means now."""
    if value is None:
        return None
    epoch = _moment(value, "at")
    return epoch if epoch > time.time() else None


def parse_deadline(expires_at: object, max_delay: object,
                   due: float | None) -> tuple[float | None, float | None]:
    """A job's deadline as given: (`expires_at` as epoch seconds, `max_delay` in seconds), at
    most one of them set. `expires_at` takes the forms `at` takes and must be after the job is
    due (now, or `due`); `max_delay` those of `undo_after`."""
    if expires_at is not None and max_delay is not None:
        raise InvalidJob("max_delay", "give expires_at or max_delay, not both")
    if max_delay is not None:
        return None, parse_duration(max_delay, "max_delay").total_seconds()
    if expires_at is None:
        return None, None
    epoch = _moment(expires_at, "expires_at")
    if epoch <= time.time():
        raise InvalidJob("expires_at", "already past (a deadline must be in the future)")
    if due is not None and epoch <= due:
        raise InvalidJob("expires_at", "must be after at (the job would expire before it is "
                         "due)")
    return epoch, None


def _moment(value: object, field: str) -> float:
    """An ISO-8601 time with an offset or an aware datetime, as epoch seconds, at most
    MAX_SCHEDULE_AHEAD ahead; InvalidJob names `field`."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidJob(field, "expected an ISO-8601 time such as 2026-12-01T09:00:00Z") \
                from None
    else:
        raise InvalidJob(field, f"expected an ISO-8601 time string, got {type(value).__name__}")
    if moment.tzinfo is None:
        raise InvalidJob(field, "the time needs an offset (Z or +01:00): local times are "
                         "ambiguous")
    epoch = moment.timestamp()
    if epoch - time.time() > MAX_SCHEDULE_AHEAD.total_seconds():
        raise InvalidJob(field, f"at most {MAX_SCHEDULE_AHEAD.days} days ahead")
    return epoch


def parse_duration(value: object, field: str) -> timedelta:
    """A positive duration: seconds (int), a timedelta, or text like `24h`, `90m`, `1d12h`."""
    if isinstance(value, timedelta):
        delay = value
    elif isinstance(value, int) and not isinstance(value, bool):
        try:
            delay = timedelta(seconds=value)
        except OverflowError:  # far too long: the bound below says so
            delay = timedelta.max if value > 0 else timedelta.min
    elif isinstance(value, str) and (parsed := parse_duration_text(value)) is not None:
        delay = parsed
    else:
        raise InvalidJob(field, f"expected a duration such as 24h, 90m or 1d12h, got {value!r}")
    if delay <= timedelta(0):
        raise InvalidJob(field, "must be positive")
    if delay > MAX_SCHEDULE_AHEAD:
        raise InvalidJob(field, f"at most {MAX_SCHEDULE_AHEAD.days} days")
    return delay
