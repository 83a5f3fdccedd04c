"""Enqueue retweet / undo jobs for rtq's workers.

    from producers import enqueue_retweet, enqueue_undo
    job_id = enqueue_retweet("7588892", "https://x.com/jack/status/20")

Reads RTQ_REDIS_URL once (see `worker.core.settings`). Bad input raises `InvalidJob` (a ValueError
naming the field); an unreachable Redis raises `EnqueueError` within a bounded time. When a
bulk enqueue fails part-way, the error's `enqueued` holds the ids of the jobs already in.
`cancel(job_id)`, `cancel(account_id=...)`, `cancel(tweet_id=...)` cancel pending jobs as
`rtq cancel` does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from producers.errors import EnqueueError, InvalidJob
from producers.job_request import JobRequest
from producers.producer import Producer
from worker.domain.cancelling import CancelReport, InvalidCancel

__all__ = [
    "CancelReport",
    "EnqueueError",
    "InvalidCancel",
    "InvalidJob",
    "JobRequest",
    "Producer",
    "cancel",
    "enqueue_many",
    "enqueue_retweet",
    "enqueue_undo",
]

_default: Producer | None = None
_lock = threading.Lock()


def _producer() -> Producer:
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = Producer.from_settings()
    return _default


def enqueue_retweet(account_id: str | int, tweet_id: str | int, *,
                    at: str | datetime | None = None,
                    undo_after: str | int | timedelta | None = None,
                    expires_at: str | datetime | None = None,
                    max_delay: str | int | timedelta | None = None) -> str:
    """Make `account_id` retweet `tweet_id` (an id or a status URL); returns the job id.

    `at` schedules it (ISO-8601 with an offset, or an aware datetime); `undo_after` (e.g.
    "24h") also schedules its undo that long after: a temporary boost. A later intent for the
    same account and tweet cancels a scheduled one. A deadline, `expires_at` (a time, as `at`)
    or `max_delay` (e.g. "15m" after it is due), ends it `expired`, without a call, if it has
    not started by then.
    """
    if undo_after is not None:
        return _producer().enqueue_boost(account_id, tweet_id, undo_after, at=at,
                                         expires_at=expires_at, max_delay=max_delay)[0]
    return _producer().enqueue("retweet", account_id, tweet_id, at=at, expires_at=expires_at,
                               max_delay=max_delay)


def enqueue_undo(account_id: str | int, tweet_id: str | int, *,
                 at: str | datetime | None = None,
                 expires_at: str | datetime | None = None,
                 max_delay: str | int | timedelta | None = None) -> str:
    """Undo `account_id`'s retweet of `tweet_id` (an id or a status URL); returns the job id.
    `expires_at` / `max_delay`: its deadline, as for `enqueue_retweet`."""
    return _producer().enqueue("undo", account_id, tweet_id, at=at, expires_at=expires_at,
                               max_delay=max_delay)


def enqueue_many(jobs: Iterable[JobRequest | Mapping[str, Any]]) -> list[str]:
    """Bulk enqueue: every job is validated first, and nothing is enqueued unless all are valid.
    A mapping with `undo_after` yields two jobs (and two ids)."""
    requests: list[JobRequest] = []
    for job in jobs:
        requests.extend([job] if isinstance(job, JobRequest) else JobRequest.from_record(job))
    return _producer().enqueue_many(requests)


def cancel(*job_ids: str, account_id: str | int | None = None,
           tweet_id: str | int | None = None) -> CancelReport:
    """Cancel pending jobs: these ids, every pending job of `account_id`, or every pending job
    for `tweet_id` (an id or a status URL) across accounts; both: that pair. A cancelled job
    ends `cancelled` and makes no call; a running one finishes its call and is not tried
    again (the report names it). Raises `InvalidCancel` naming the argument."""
    return _producer().cancel(*job_ids, account_id=account_id, tweet_id=tweet_id)
