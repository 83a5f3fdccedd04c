"""Cancelling pending jobs (`rtq cancel`): jobs by id, every pending job of an account, every
pending job for a tweet across accounts (a scam found after the fact), or one pair.

cancel.lua decides each job atomically, a few hundred per call: a finished job is left as it
is, a running one finishes the call it is making (and is never tried again), a queued or
deferred one ends `cancelled` and leaves every place it waits. begin.lua treats `cancelled` as
done, so a message still in the queue, or prefetched by a worker, makes no call.

Finding the jobs costs what the selection holds, never a scan of the keyspace:
- an account's: its job index (`JobIndex`, newest first), read in batches;
- a tweet's: only a pair's latest intent and its scheduled jobs can still call X (an older
  job of the pair ends superseded without a call), so each account's intent and scheduled
  set for the tweet, the accounts read from their hash in chunks (HSCAN).
Jobs enqueued after the cancel began are not cancelled (pause first if producers keep
enqueuing), and a raw `send_task` message no worker has met yet has no record to cancel.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

import redis

from worker.core import clock
from worker.core.ids import InvalidId, parse_account_id, parse_tweet_id
from worker.core.keys import Keys
from worker.domain.job import JOB_ID_RE
from worker.domain.job_index import JobIndex
from worker.domain.scripts import Scripts
from worker.domain.scripts.cancel import CancelInput, CancelJob, JobResult, cancel_results
from worker.domain.scripts.contract import args_of, call_of

BATCH = 300          # job ids per cancel.lua call (and per read of an account's index)
ACCOUNT_CHUNK = 500  # accounts per HSCAN step and per pipeline of their pair keys
_SHOWN_IDS = 10


class InvalidCancel(ValueError):
    """A selection that cannot be cancelled; `field` names the argument (job_ids,
    account_id, tweet_id)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownToCancel(InvalidCancel):
    """A well-formed id rtq does not know (an unknown account, a job without a record)."""


@dataclass(frozen=True, slots=True)
class Selection:
    """What to cancel: job ids, or an account, a tweet, or both (one pair)."""

    job_ids: tuple[str, ...] = ()
    account_id: str | None = None
    tweet_id: str | None = None

    @property
    def target(self) -> str:
        """How the audit trail and the report name it."""
        if self.job_ids:
            shown = ",".join(self.job_ids[:_SHOWN_IDS])
            more = len(self.job_ids) - _SHOWN_IDS
            return f"job {shown}" + (f" (+{more} more)" if more > 0 else "")
        parts = [f"account:{self.account_id}" if self.account_id else "",
                 f"tweet:{self.tweet_id}" if self.tweet_id else ""]
        return " ".join(part for part in parts if part)


def selection(job_ids: Iterable[str] = (), account_id: object = None,
              tweet_id: object = None) -> Selection:
    """A checked selection: job ids (1-128 letters, digits or -_.:) or an account and/or a
    tweet (digits; a tweet may be a status URL), not both kinds, not nothing."""
    ids = tuple(dict.fromkeys(job_ids))  # once each, in the order given
    if ids and (account_id is not None or tweet_id is not None):
        raise InvalidCancel("job_ids", "give job ids, or an account and/or a tweet, not both")
    if not ids and account_id is None and tweet_id is None:
        raise InvalidCancel("job_ids", "nothing selected: give job ids, an account or a tweet")
    for job_id in ids:
        if not isinstance(job_id, str) or not JOB_ID_RE.fullmatch(job_id):
            raise InvalidCancel("job_ids", f"{str(job_id)[:40]!r} is not a job id (1-128 "
                                "letters, digits or -_.:)")
    try:
        account = None if account_id is None else parse_account_id(account_id)
    except InvalidId as exc:
        raise InvalidCancel("account_id", str(exc)) from None
    try:
        tweet = None if tweet_id is None else parse_tweet_id(tweet_id)
    except InvalidId as exc:
        raise InvalidCancel("tweet_id", str(exc)) from None
    return Selection(ids, account, tweet)


@dataclass(frozen=True, slots=True)
class CancelReport:
    """What a cancel did: jobs cancelled, jobs that had finished already, jobs running (each
    finishes the call it is making and is not tried again), and ids without a record."""

    target: str
    cancelled: int = 0
    finished: int = 0
    running: tuple[str, ...] = ()
    missing: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "cancelled": self.cancelled, "finished": self.finished,
                "running": list(self.running), "missing": self.missing}

    def audit_details(self) -> dict[str, Any]:
        """What the audit entry adds to the jobs cancelled (None: left out)."""
        return {"finished": self.finished, "running": len(self.running) or None,
                "missing": self.missing or None}


class Cancels:
    def __init__(self, client: redis.Redis, keys: Keys, *, job_ttl: int,
                 batch: int = BATCH) -> None:
        self._redis = client
        self._keys = keys
        self._job_ttl = job_ttl
        self._batch = batch
        self._scripts = Scripts(client)

    def cancel(self, chosen: Selection, *, actor: str) -> CancelReport:
        """Cancel what `chosen` selects; `actor` (as the audit trail names it: cli:<user>,
        web:<login>, api:<token>) goes into each cancelled job's reason. Raises
        UnknownToCancel for an unknown account or a job id without a record."""
        self._check_known(chosen)
        if chosen.job_ids:
            ids: Iterable[str] = chosen.job_ids
        elif chosen.tweet_id is None:
            assert chosen.account_id is not None
            ids = JobIndex(self._redis, self._keys).newest_first(chosen.account_id,
                                                                 batch=self._batch)
        else:
            accounts = ([[chosen.account_id]] if chosen.account_id is not None
                        else self._account_chunks())
            ids = self._pending_of_tweet(accounts, chosen.tweet_id)
        return self._cancel_ids(chosen.target, ids, f"cancelled by an operator ({actor})")

    def _check_known(self, chosen: Selection) -> None:
        keys = self._keys
        if chosen.job_ids:
            pipe = self._redis.pipeline(transaction=False)
            for job_id in chosen.job_ids:
                pipe.exists(keys.job(job_id))
            for job_id, found in zip(chosen.job_ids, pipe.execute(), strict=True):
                if not found:
                    raise UnknownToCancel("job_ids", f"no job {job_id} (an unknown id, or its "
                                          "record has expired)")
        if chosen.account_id is not None:
            account = chosen.account_id
            # A removed account's jobs may still wait (to be dead-lettered): its index counts.
            if not JobIndex(self._redis, keys).knows_account(account):
                raise UnknownToCancel("account_id", f"no account {account} (rtq accounts list "
                                      "shows them)")

    def _account_chunks(self) -> Iterator[list[str]]:
        """Every account id, a chunk at a time (HSCAN of the accounts hash: an index, not a
        scan of the keyspace)."""
        cursor = 0
        while True:
            cursor, found = self._redis.hscan(self._keys.accounts, cursor, count=ACCOUNT_CHUNK)
            if found:
                yield [_text(account) for account in found]
            if cursor == 0:
                return

    def _pending_of_tweet(self, chunks: Iterable[list[str]], tweet_id: str) -> Iterator[str]:
        """The jobs for `tweet_id` that could still call X: each account's latest intent for
        it and its scheduled jobs."""
        keys = self._keys
        for accounts in chunks:
            pipe = self._redis.pipeline(transaction=False)
            for account in accounts:
                pipe.hget(keys.intent(account, tweet_id), "job")
                pipe.zrange(keys.scheduled(account, tweet_id), 0, -1)
            replies = pipe.execute()
            for latest, scheduled in zip(replies[::2], replies[1::2], strict=True):
                found = ([_text(latest)] if latest else []) + [_text(j) for j in scheduled]
                yield from dict.fromkeys(found)

    def _cancel_ids(self, target: str, ids: Iterable[str], reason: str) -> CancelReport:
        counts = {"cancelled": 0, "finished": 0, "missing": 0}
        running: list[str] = []
        iterator = iter(ids)
        while batch := list(islice(iterator, self._batch)):
            for job_id, result in zip(batch, self._cancel_batch(batch, reason), strict=True):
                if result == "running":
                    running.append(job_id)
                else:
                    counts[result] += 1
        return CancelReport(target, counts["cancelled"], counts["finished"], tuple(running),
                            counts["missing"])

    def _cancel_batch(self, job_ids: Sequence[str], reason: str) -> list[JobResult]:
        keys = self._keys
        now = clock.now()
        now_ms = clock.ms(now)
        call = call_of(CancelInput(
            parked=keys.parked, parked_messages=keys.parked_messages, outcomes=keys.outcomes,
            minute_outcomes=keys.minute_outcomes(now_ms // 60_000), latency=keys.latency,
            key_prefix=f"{keys.prefix}:", now_iso=clock.iso(now), now_ms=now_ms,
            reason=reason, job_ttl=self._job_ttl))
        args = [*call.args, *(arg for job_id in job_ids for arg in args_of(CancelJob(job_id)))]
        reply = self._scripts.cancel(keys=call.keys, args=args)
        return cancel_results(reply, len(job_ids))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
