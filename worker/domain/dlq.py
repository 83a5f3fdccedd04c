"""Dead letters: jobs that cannot succeed, kept for operators to inspect, replay and purge.

Entries are JSON documents in one hash, indexed by failure time in a sorted set. They hold ids,
X's status and detail, and the attempt history: never a credential. The queue is bounded by
RTQ_DLQ_MAX entries and RTQ_DLQ_TTL seconds: the oldest go first, and trimming is logged.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from worker.core import clock
from worker.core.ids import InvalidId, parse_account_id
from worker.core.keys import Keys
from worker.domain.scripts import Scripts
from worker.domain.scripts.contract import call_of
from worker.domain.scripts.queueing import TrimInput, trimmed

log = logging.getLogger("rtq.dlq")

REASONS = (
    "invalid_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "retries_exhausted",
    "malformed_message",
    "unknown_account",
    "redelivery_limit",
    "internal_error",
)
# Replaying these cannot change the outcome on its own (the message itself is unusable).
NOT_REPLAYABLE = frozenset({"malformed_message"})
# X (or rtq) said no for a reason that replaying alone does not fix: replay asks for --force.
PERMANENT = frozenset({"invalid_request", "unauthorized", "forbidden", "not_found",
                       "unknown_account"})
_DURATION = re.compile(r"([0-9]+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class DeadLetter:
    id: str
    job_id: str | None
    action: str | None
    account_id: str | None
    tweet_id: str | None
    reason: str
    http_status: int | None
    detail: str
    attempts: int
    failed_at: str
    history: tuple[dict[str, Any], ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job_id": self.job_id,
            "action": self.action,
            "account_id": self.account_id,
            "tweet_id": self.tweet_id,
            "reason": self.reason,
            "http_status": self.http_status,
            "detail": self.detail,
            "attempts": self.attempts,
            "failed_at": self.failed_at,
            "history": list(self.history),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), separators=(",", ":"))

    def job_line(self) -> dict[str, str] | None:
        """The entry as a line `rtq enqueue` reads back (`rtq dlq export`, the API's export);
        None for an entry without an action and both ids (a malformed message)."""
        if not (self.action and self.account_id and self.tweet_id):
            return None
        return {"action": self.action, "account_id": self.account_id, "tweet_id": self.tweet_id}

    @classmethod
    def from_json(cls, raw: str) -> DeadLetter:
        data = json.loads(raw)
        data["history"] = tuple(data.get("history") or ())
        return cls(**data)


@dataclass(frozen=True)
class Filter:
    """Which entries a command applies to; every part is optional."""

    reason: str | None = None
    account_id: str | None = None
    since: datetime | None = None

    def matches(self, entry: DeadLetter) -> bool:
        if self.reason is not None and entry.reason != self.reason:
            return False
        if self.account_id is not None and entry.account_id != self.account_id:
            return False
        return self.since is None or datetime.fromisoformat(entry.failed_at) >= self.since

    @property
    def empty(self) -> bool:
        return self.reason is None and self.account_id is None and self.since is None


class BadFilter(ValueError):
    """A filter given by an operator is not valid; `field` names it (reason, account, since,
    limit) and the message reads `field: reason`."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def parse_filter(reason: str | None = None, account: str | None = None,
                 since: str | None = None) -> Filter:
    """The Filter an operator gives as text (the CLI's options, the console's form, the API's
    query); None means not given, anything else must be valid. Raises BadFilter."""
    if reason is not None and reason not in REASONS:
        raise BadFilter("reason", f"not a dead-letter reason: {reason}")
    try:
        account_id = parse_account_id(account) if account is not None else None
    except InvalidId as exc:
        raise BadFilter("account", str(exc)) from None
    try:
        moment = parse_since(since) if since is not None else None
    except ValueError as exc:
        raise BadFilter("since", str(exc)) from None
    return Filter(reason=reason, account_id=account_id, since=moment)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An ISO-8601 time (`2026-11-26T09:00:00Z`) or a duration back from now (`90m`, `2h`,
    `7d`, `1d12h`)."""
    now = now or datetime.now(UTC)
    if _DURATION.fullmatch(text) or re.fullmatch(r"(?:[0-9]+[smhdw])+", text):
        seconds = sum(int(n) * _UNITS[unit] for n, unit in _DURATION.findall(text))
        return now - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"expected an ISO-8601 time or a duration like 2h, got {text!r}") \
            from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def new_entry_id() -> str:
    return uuid.uuid4().hex[:16]


class DeadLetters:
    def __init__(self, client: redis.Redis, keys: Keys, *, max_entries: int = 100_000,
                 ttl: int = 30 * 24 * 3600) -> None:
        self._redis = client
        self._keys = keys
        self._max = max_entries
        self._ttl = ttl

    def count(self) -> int:
        return int(self._redis.zcard(self._keys.dlq_index))

    def list(
        self, *, reason: str | None = None, account_id: str | None = None,
        limit: int | None = None, where: Filter | None = None,
    ) -> list[DeadLetter]:
        """Entries, oldest first, optionally filtered."""
        where = where or Filter(reason=reason, account_id=account_id)
        result: list[DeadLetter] = []
        for entry in self.iter(where):
            result.append(entry)
            if limit is not None and len(result) >= limit:
                break
        return result

    def get(self, entry_id: str) -> DeadLetter | None:
        raw = self._redis.hget(self._keys.dlq_entries, entry_id)
        return DeadLetter.from_json(raw) if raw is not None else None

    def add(self, entry: DeadLetter, failed_at_ms: int) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._keys.dlq_entries, entry.id, entry.to_json())
        pipe.zadd(self._keys.dlq_index, {entry.id: failed_at_ms})
        pipe.execute()
        self.trim()

    def trim(self) -> tuple[int, int]:
        """Apply RTQ_DLQ_TTL and RTQ_DLQ_MAX; log what was dropped."""
        oldest_kept = clock.ms(clock.now() - self._ttl)
        call = call_of(TrimInput(dlq_index=self._keys.dlq_index,
                                 dlq_entries=self._keys.dlq_entries, max_entries=self._max,
                                 oldest_kept_ms=oldest_kept))
        aged, capped = trimmed(Scripts(self._redis).trim_dlq(keys=call.keys, args=call.args))
        log_trim(aged, capped, self._max, self._ttl)
        return aged, capped

    def oldest_failed_at(self) -> float | None:
        first = self._redis.zrange(self._keys.dlq_index, 0, 0, withscores=True)
        return float(first[0][1]) / 1000 if first else None

    def remove(self, entry_ids: Iterable[str]) -> int:
        ids = list(entry_ids)
        if not ids:
            return 0
        pipe = self._redis.pipeline(transaction=True)
        pipe.zrem(self._keys.dlq_index, *ids)
        pipe.hdel(self._keys.dlq_entries, *ids)
        removed, _ = pipe.execute()
        return int(removed)

    def purge(self, where: Filter | None = None) -> int:
        if where is None or where.empty:
            pipe = self._redis.pipeline(transaction=True)
            pipe.zcard(self._keys.dlq_index)
            pipe.delete(self._keys.dlq_index, self._keys.dlq_entries)
            count, _ = pipe.execute()
            return int(count)
        removed = 0
        batch: list[str] = []
        for entry in self.iter(where):
            batch.append(entry.id)
            if len(batch) >= 500:
                removed += self.remove(batch)
                batch = []
        return removed + self.remove(batch)

    def count_matching(self, where: Filter, limit: int | None = None) -> int:
        """How many entries `purge_matching(where, limit)` would delete now."""
        if where.empty and limit is None:
            return self.count()
        return len(self.list(where=where, limit=limit))

    def purge_matching(self, where: Filter, limit: int | None = None) -> int:
        """Delete every entry (no filter, no limit: in one step) or those `where` selects, the
        oldest `limit` of them; `rtq dlq purge` and the console's purge."""
        if where.empty and limit is None:
            return self.purge()
        return self.remove(entry.id for entry in self.list(where=where, limit=limit))

    def iter(self, where: Filter | None = None, batch: int = 500) -> Iterator[DeadLetter]:
        """Entries oldest first (a snapshot of ids, read in batches)."""
        low = "-inf" if where is None or where.since is None else where.since.timestamp() * 1000
        ids = self._redis.zrangebyscore(self._keys.dlq_index, low, "+inf")
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            for raw in self._redis.hmget(self._keys.dlq_entries, chunk):
                if raw is None:
                    continue
                entry = DeadLetter.from_json(raw)
                if where is None or where.matches(entry):
                    yield entry


def log_trim(aged: int, capped: int, max_entries: int, ttl: int) -> None:
    if aged:
        log.warning("dead-letter queue: dropped %d entries older than RTQ_DLQ_TTL (%ds)", aged,
                    ttl)
    if capped:
        log.warning("dead-letter queue: dropped the %d oldest entries beyond RTQ_DLQ_MAX (%d)",
                    capped, max_entries)
