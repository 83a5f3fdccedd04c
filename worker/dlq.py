"""Dead letters: jobs that cannot succeed, kept for operators to inspect, replay and purge.

Entries are JSON documents in one hash, indexed by failure time in a sorted set. They hold ids,
X's status and detail, and the attempt history: never a credential.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import redis

from worker.keys import Keys

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

    @classmethod
    def from_json(cls, raw: str) -> DeadLetter:
        data = json.loads(raw)
        data["history"] = tuple(data.get("history") or ())
        return cls(**data)


def new_entry_id() -> str:
    return uuid.uuid4().hex[:16]


class DeadLetters:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def count(self) -> int:
        return int(self._redis.zcard(self._keys.dlq_index))

    def list(
        self, *, reason: str | None = None, account_id: str | None = None, limit: int | None = None
    ) -> list[DeadLetter]:
        """Entries, oldest first, optionally filtered."""
        result: list[DeadLetter] = []
        for entry in self._iter_all():
            if reason is not None and entry.reason != reason:
                continue
            if account_id is not None and entry.account_id != account_id:
                continue
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

    def remove(self, entry_ids: Iterable[str]) -> int:
        ids = list(entry_ids)
        if not ids:
            return 0
        pipe = self._redis.pipeline(transaction=True)
        pipe.zrem(self._keys.dlq_index, *ids)
        pipe.hdel(self._keys.dlq_entries, *ids)
        removed, _ = pipe.execute()
        return int(removed)

    def purge(self) -> int:
        pipe = self._redis.pipeline(transaction=True)
        pipe.zcard(self._keys.dlq_index)
        pipe.delete(self._keys.dlq_index, self._keys.dlq_entries)
        count, _ = pipe.execute()
        return int(count)

    def _iter_all(self, batch: int = 500) -> Iterable[DeadLetter]:
        start = 0
        while True:
            ids = self._redis.zrange(self._keys.dlq_index, start, start + batch - 1)
            if not ids:
                return
            for raw in self._redis.hmget(self._keys.dlq_entries, ids):
                if raw is not None:
                    yield DeadLetter.from_json(raw)
            start += batch
