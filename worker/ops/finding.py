"""Finding jobs: an account's jobs, newest first, paged, optionally of one tweet or in one state,
each with why and until when it waits (`rtq jobs`, and the HTTP API's listing).

The listing walks the account's job index (worker/domain/job_index.py), never the keyspace, and
reads the records of the entries it walks in one pipelined HMGET per chunk. A call walks at most
`EXAMINE_MAX` entries: with a filter that matches little on a huge account, it returns what it
found so far and a cursor to go on from (possibly with no job at all), so no call blocks Redis
or the caller for long, whatever the account holds. Pages neither overlap nor leave a gap: the
cursor is the index entry the page ended on (the last job returned, or the last entry
examined).

Order is the index's (newest first), for waiting jobs too: a listing by due time would have to
read every waiting job of the account (or keep one more sorted set per account, written by
every script that parks or releases a job), which is what the bound forbids.

    JobQuery.parse   validates the arguments, each error naming its argument (InvalidQuery,
                     worker/ops/job_query.py)
    JobFinder.jobs   one page (JobsPage: JobSummary rows, the next cursor, entries examined)
    summaries        JobSummary rows of known job ids (worker/ops/lookup.py uses it too)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from worker.core import clock
from worker.core.keys import Keys
from worker.domain.job_index import JobIndex
from worker.domain.jobs import STATES
from worker.ops.job_query import (
    DEFAULT_LIMIT,
    LIMIT_MAX,
    STATE_ALIASES,
    InvalidQuery,
    JobQuery,
    UnknownAccount,
)
from worker.ops.waits import WHERE, Wait, app_hold_ends, held_app, queue_wait_reads, wait_of

# The listing's arguments live in job_query.py; they are part of this module's surface.
__all__ = ["CHUNK", "DEFAULT_LIMIT", "EXAMINE_MAX", "LIMIT_MAX", "STATES", "STATE_ALIASES",
           "InvalidQuery", "JobFinder", "JobQuery", "JobSummary", "JobsPage", "UnknownAccount",
           "summaries"]

# Index entries one call examines at most (their records read in chunks: 5,000 took 99 ms on a
# shared 2-core machine, `python -m bench finding`); with a filter that matches little, the
# call returns a cursor instead.
EXAMINE_MAX = 5000
# Index entries read (and records fetched) per round trip.
CHUNK = 500
# What a summary reads of each record.
FIELDS = ("state", "action", "account_id", "tweet_id", "created_at", "created_at_ms",
          "updated_at", "attempts", "reason", "detail", "due_at", "due_at_ms", "expires_at_ms",
          "worker")


@dataclass(frozen=True)
class JobSummary:
    """One job as a listing shows it; `wait` only for a deferred job."""

    job_id: str
    action: str
    account_id: str | None
    tweet_id: str | None
    state: str
    created_at: str | None
    updated_at: str | None
    attempts: int
    reason: str | None
    detail: str | None
    wait: Wait | None = None
    expires_at: str | None = None
    worker: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The listing's JSON shape (`rtq jobs --json`, the HTTP API)."""
        wait = self.wait
        return {
            "job_id": self.job_id,
            "action": self.action,
            "account_id": self.account_id,
            "tweet_id": self.tweet_id,
            "state": self.state,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "due_at": wait.due_at if wait else None,
            "waiting_for": wait.reason if wait else None,
            "detail": wait.detail if wait else self.detail,
            "reason": self.reason,
            "attempts": self.attempts,
            "expires_at": self.expires_at,
            "worker": self.worker,
        }


@dataclass(frozen=True)
class JobsPage:
    account_id: str
    jobs: list[JobSummary]
    next_cursor: str | None   # None: the index has nothing older
    examined: int             # index entries this call walked

    def as_dict(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "jobs": [j.as_dict() for j in self.jobs],
                "next_cursor": self.next_cursor, "examined": self.examined}


class JobFinder:
    def __init__(self, client: redis.Redis, keys: Keys, *,
                 examine_max: int = EXAMINE_MAX) -> None:
        self._redis = client
        self._keys = keys
        self._index = JobIndex(client, keys)
        self._examine_max = examine_max

    def jobs(self, query: JobQuery) -> JobsPage:
        """One page of the account's jobs, newest first, that match the query."""
        account = query.account_id
        self.require_account(account)
        found: list[tuple[str, dict[str, str | None]]] = []
        examined, cursor = 0, query.cursor
        next_cursor: str | None = None
        while True:
            # Unfiltered, a page reads about its own size (more only past expired records);
            # filtered, a few times what is still missing, in chunks.
            missing = query.limit - len(found)
            filtered = query.state is not None or query.tweet_id is not None
            want = min(CHUNK, self._examine_max - examined,
                       max(100, 4 * missing) if filtered else missing)
            entries = self._index.entries(account, before=cursor, count=want)
            records = _records(self._redis, self._keys, [e.job_id for e in entries])
            full = False
            for position, (entry, record) in enumerate(zip(entries, records, strict=True)):
                examined += 1
                cursor = entry.entry_id
                if entry.job_id is not None and record is not None and _matches(record, query):
                    found.append((entry.job_id, record))
                    if len(found) == query.limit:
                        full = True
                        # The last entry of an index read to its end: nothing comes after.
                        ended = position == len(entries) - 1 and len(entries) < want
                        next_cursor = None if ended else entry.entry_id
                        break
            if full:
                break
            if len(entries) < want:
                next_cursor = None
                break
            if examined >= self._examine_max:
                next_cursor = cursor
                break
        return JobsPage(account, _summaries(self._redis, self._keys, found), next_cursor,
                        examined)

    def require_account(self, account_id: str) -> None:
        """UnknownAccount unless rtq has the account's credentials or jobs of it (a removed
        account's jobs can still be found)."""
        if not self._index.knows_account(account_id):
            raise UnknownAccount(account_id)


def summaries(client: redis.Redis, keys: Keys, job_ids: Sequence[str]) -> list[JobSummary | None]:
    """The summaries of these jobs, in order (None for a job whose record is gone)."""
    records = _records(client, keys, list(job_ids))
    present = [(job_id, r) for job_id, r in zip(job_ids, records, strict=True) if r is not None]
    by_id = {s.job_id: s for s in _summaries(client, keys, present)}
    return [by_id.get(job_id) for job_id in job_ids]


def _records(client: redis.Redis, keys: Keys,
             job_ids: Sequence[str | None]) -> list[dict[str, str | None] | None]:
    present = [job_id for job_id in job_ids if job_id is not None]
    if not present:
        return [None] * len(job_ids)
    pipe = client.pipeline(transaction=False)
    for present_id in present:
        pipe.hmget(keys.job(present_id), FIELDS)
    replies = iter(pipe.execute())
    out: list[dict[str, str | None] | None] = []
    for job_id in job_ids:
        if job_id is None:
            out.append(None)
            continue
        record = {name: _text(v) for name, v in zip(FIELDS, next(replies), strict=True)}
        # An expired record reads as all None (a hash always has an action and a state, or
        # for a raw message's early record at least its ids).
        out.append(record if any(v is not None for v in record.values()) else None)
    return out


def _matches(record: Mapping[str, str | None], query: JobQuery) -> bool:
    if query.state is not None and (record.get("state") or "queued") != query.state:
        return False
    return query.tweet_id is None or record.get("tweet_id") == query.tweet_id


def _summaries(client: redis.Redis, keys: Keys,
               found: list[tuple[str, dict[str, str | None]]]) -> list[JobSummary]:
    """Summaries of (job id, record) pairs: a second round trip reads where each deferred job
    waits (worker/ops/waits.py), none for the others."""
    deferred = [job_id for job_id, record in found if record.get("state") == "deferred"]
    replies: dict[str, list[Any]] = {}
    if deferred:
        pipe = client.pipeline(transaction=False)
        for job_id in deferred:
            queue_wait_reads(pipe, keys, job_id)
        flat = pipe.execute()
        step = len(WHERE) + 1
        replies = {job_id: flat[i * step:(i + 1) * step] for i, job_id in enumerate(deferred)}
    apps = {app for job_id, record in found if job_id in replies
            and (app := held_app(record.get("detail"))) is not None}
    app_until = app_hold_ends(client, keys, apps)
    return [_summary(job_id, record, replies.get(job_id), app_until) for job_id, record in found]


def _summary(job_id: str, record: Mapping[str, str | None], replies: list[Any] | None,
             app_until: Mapping[str, int | None]) -> JobSummary:
    state = record.get("state") or "queued"
    # Producers write the creation time as epoch ms (enqueue.lua), others as ISO text.
    created_at = _ms_iso(record.get("created_at_ms")) or record.get("created_at")
    attempts = record.get("attempts") or "0"
    terminal = state in ("succeeded", "skipped", "superseded", "dead", "cancelled", "expired")
    return JobSummary(
        job_id=job_id, action=record.get("action") or "", account_id=record.get("account_id"),
        tweet_id=record.get("tweet_id"), state=state, created_at=created_at,
        updated_at=record.get("updated_at") or created_at,
        attempts=int(attempts) if attempts.isdigit() else 0,
        reason=record.get("reason") if terminal else None,
        detail=record.get("detail"),
        wait=wait_of(record, replies, app_until) if replies is not None else None,
        expires_at=_ms_iso(record.get("expires_at_ms")),
        worker=record.get("worker") if state == "running" else None,
    )


def _ms_iso(value: str | None) -> str | None:
    return clock.iso_ms(int(value)) if value and value.isdigit() else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
