"""Job status records: what `rtq status` shows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

from worker.core import clock
from worker.core.keys import Keys

STATES = ("queued", "deferred", "running", "succeeded", "skipped", "superseded", "dead",
          "cancelled", "expired")
TERMINAL_STATES = frozenset({"succeeded", "skipped", "superseded", "dead", "cancelled",
                             "expired"})

# The states whose record says why (a reason left from an earlier state is not shown).
_WITH_REASON = frozenset({"skipped", "superseded", "dead", "cancelled", "expired"})


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    action: str
    account_id: str | None
    tweet_id: str | None
    state: str
    attempts: int
    updated_at: str | None
    reason: str | None
    created_at: str | None
    due_at: str | None
    http_status: int | None
    detail: str | None
    history: tuple[dict[str, Any], ...]
    worker: str | None = None
    expires_at: str | None = None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def as_dict(self) -> dict[str, Any]:
        """The public JSON shape (the contract's fields first, then extras)."""
        return {
            "job_id": self.job_id,
            "action": self.action,
            "account_id": self.account_id,
            "tweet_id": self.tweet_id,
            "state": self.state,
            "attempts": self.attempts,
            "updated_at": self.updated_at,
            "reason": self.reason if self.state in _WITH_REASON else None,
            "created_at": self.created_at,
            "due_at": self.due_at if self.state == "deferred" else None,
            "http_status": self.http_status,
            "detail": self.detail,
            "worker": self.worker,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_hash(cls, job_id: str, fields: dict[str, str]) -> JobStatus:
        status = fields.get("http_status") or ""
        # Producers write the creation time as epoch ms (enqueue.lua), others as ISO text.
        created_at = _iso_exact_ms(fields.get("created_at_ms")) or fields.get("created_at") or None
        return cls(
            job_id=job_id,
            action=fields.get("action", ""),
            account_id=fields.get("account_id") or None,
            tweet_id=fields.get("tweet_id") or None,
            state=fields.get("state", "queued"),
            attempts=int(fields.get("attempts") or 0),
            # A record not updated since it was enqueued has no updated_at of its own.
            updated_at=fields.get("updated_at") or created_at,
            reason=fields.get("reason") or None,
            created_at=created_at,
            due_at=fields.get("due_at") or _iso_ms(fields.get("due_at_ms")),
            http_status=int(status) if status.isdigit() else None,
            detail=fields.get("detail") or None,
            history=tuple(json.loads(fields.get("history") or "[]")),
            worker=fields.get("worker") or None,
            expires_at=_iso_exact_ms(fields.get("expires_at_ms")),
        )


def _iso_ms(value: str | None) -> str | None:
    # Lua writes due times as epoch milliseconds (it has no date formatting).
    return clock.iso(int(value) / 1000) if value and value.isdigit() else None


class JobStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def get(self, job_id: str) -> JobStatus | None:
        fields = self._redis.hgetall(self._keys.job(job_id))
        return JobStatus.from_hash(job_id, fields) if fields else None

    def get_many(self, job_ids: list[str]) -> list[JobStatus | None]:
        pipe = self._redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hgetall(self._keys.job(job_id))
        return [
            JobStatus.from_hash(job_id, fields) if fields else None
            for job_id, fields in zip(job_ids, pipe.execute(), strict=True)
        ]


def _iso_exact_ms(value: str | None) -> str | None:
    return clock.iso_ms(int(value)) if value and value.isdigit() else None
