"""Enqueue jobs: intent, status record and Celery message of each job written atomically by
one Redis script (enqueue.lua), called once per batch of up to BATCH_SIZE jobs.

A job id is returned only once Redis has accepted all three; an unreachable Redis raises
`EnqueueError` within the client's connect/socket timeouts (no silent drop, no hang).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import redis

from producers.errors import EnqueueError, InvalidJob
from producers.job_request import JobRequest
from worker.core import clock
from worker.core.keys import Keys
from worker.core.redis_client import connect, redact_url
from worker.core.settings import Settings
from worker.domain import lanes
from worker.domain.cancelling import CancelReport, Cancels, selection
from worker.domain.messages import build_message, new_delivery_tags, new_job_ids
from worker.domain.scripts import Scripts
from worker.domain.scripts.contract import args_of, packed_call_of
from worker.domain.scripts.queueing import EnqueueInput, EnqueueJob, enqueue_results
from worker.ops import audit
from worker.ops.flower import SentEvents, SentJob, events_topic

BATCH_SIZE = 1000


class Producer:
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self._redis = client
        self._settings = settings
        self._keys = Keys(settings.key_prefix)
        self._queue = settings.queue_key
        self._overflow = lanes.lane(settings.queue_key, lanes.OVERFLOW)
        self._scripts = Scripts(client)
        self._topic = events_topic(settings, "task.multi")

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Producer:
        settings = settings or Settings.from_env()
        return cls(connect(settings.redis_url), settings)

    def enqueue(self, action: str, account_id: object, tweet_id: object, *,
                at: object = None, expires_at: object = None,
                max_delay: object = None) -> str:
        """Validate and enqueue one job (due now, or `at` an ISO-8601 time or aware
        datetime); returns its id (the Celery task id). A job not started by its deadline,
        `expires_at` (a time, as `at`) or `max_delay` (a duration such as 15m, after it is
        due), ends `expired` without calling X."""
        request = JobRequest.create(action, account_id, tweet_id, at, expires_at=expires_at,
                                    max_delay=max_delay)
        return self.enqueue_many([request])[0]

    def enqueue_boost(self, account_id: object, tweet_id: object, undo_after: object, *,
                      at: object = None, expires_at: object = None,
                      max_delay: object = None) -> tuple[str, str]:
        """Retweet now (or `at`) and undo `undo_after` later; returns both job ids. The
        retweet gets the deadline; the undo only a `max_delay`, after its own due time."""
        requests = JobRequest.create("retweet", account_id, tweet_id, at, expires_at=expires_at,
                                     max_delay=max_delay).with_undo_after(undo_after)
        retweet_id, undo_id = self.enqueue_many(requests)
        return retweet_id, undo_id

    def cancel(self, *job_ids: str, account_id: object = None, tweet_id: object = None,
               actor: str | None = None) -> CancelReport:
        """Cancel pending jobs: these ids, or every pending job of `account_id`, or for
        `tweet_id` across accounts (both: that pair), as `rtq cancel` does
        (worker/domain/cancelling.py). Recorded in the audit trail as `actor` (default
        python:<user>). Bad input raises InvalidCancel, naming the argument in `field`."""
        chosen = selection(job_ids, account_id, tweet_id)
        who = actor or f"python:{_user()}"
        report = Cancels(self._redis, self._keys, job_ttl=self._settings.job_ttl).cancel(
            chosen, actor=who)
        audit.record(self._redis, self._keys, "cancel", actor=who, target=report.target,
                     jobs=report.cancelled, **report.audit_details())
        return report

    def enqueue_many(
        self, requests: Iterable[JobRequest], *, replaces: Sequence[str] | None = None,
        require_account: bool = True,
    ) -> list[str]:
        """Enqueue validated jobs in batches (one script call each); returns their ids in order.

        Unknown accounts are checked for the whole input before anything is written, so a bad
        input enqueues nothing. `replaces` (dead-letter entry ids, one per request) are removed
        in the same atomic step as each job is enqueued. A job Redis refuses all the same (its
        account removed meanwhile, its dead letter replayed already) raises once its batch has
        run; later batches are not sent. Either error carries `enqueued`: the ids of the jobs
        Redis accepted before it, so that a caller can report them rather than send them again.
        """
        jobs = list(requests)
        if require_account:
            self._check_accounts(jobs)
        ids: list[str] = []
        in_flight: tuple[list[JobRequest], list[str]] | None = None
        try:
            with self._scripts.enqueue.session() as session:
                # The next batch is built while Redis runs the one sent.
                for start in range(0, len(jobs), BATCH_SIZE):
                    batch = jobs[start:start + BATCH_SIZE]
                    entries = replaces[start:start + BATCH_SIZE] if replaces else None
                    batch_ids, packed = self._pack_batch(batch, entries, require_account)
                    if in_flight is not None:
                        ids.extend(self._check_results(*in_flight, session.receive(), ids))
                    session.send(packed)
                    in_flight = (batch, batch_ids)
                if in_flight is not None:
                    ids.extend(self._check_results(*in_flight, session.receive(), ids))
        except redis.RedisError as exc:
            raise EnqueueError(
                f"Redis at {redact_url(self._settings.redis_url)} did not accept the job: "
                f"{type(exc).__name__}: {exc}", enqueued=tuple(ids)
            ) from None
        return ids

    def _pack_batch(self, batch: list[JobRequest], entries: Sequence[str] | None,
                    require_account: bool) -> tuple[list[str], bytes]:
        """The batch's job ids, and its call of enqueue.lua (see the script for the order)."""
        moment = clock.now()
        keys = self._keys
        settings = self._settings
        ids = new_job_ids(len(batch))
        tags = new_delivery_tags(len(batch) + 1)  # kombu's, one per message
        # What Celery's send_task emits (task_send_sent_event), so that Flower also knows when
        # each job was sent: the script publishes the events of the jobs it accepts in one
        # message, as Celery publishes buffered events (best effort, like Celery's own events:
        # nobody may be listening).
        events = SentEvents(settings.queue, moment)
        events_head, events_tail = events.multi(tags[-1])
        # Shared by the batch, passed once.
        now_ms = clock.ms(moment)  # the record keeps ms, other fields ISO: the same instant
        call = packed_call_of(EnqueueInput(
            accounts=keys.accounts, seq=keys.seq, queue=self._queue, parked=keys.parked,
            parked_messages=keys.parked_messages, dlq_index=keys.dlq_index,
            dlq_entries=keys.dlq_entries, groups=keys.groups, overflow_lane=self._overflow,
            deadlines=keys.deadlines, now_iso=clock.iso_ms(now_ms), now_ms=now_ms,
            key_prefix=f"{keys.prefix}:",
            default_limit=settings.rate_limit, default_window=settings.rate_window,
            force=not require_account, events_channel=self._topic, events_head=events_head,
            events_tail=events_tail, lane_share=lanes.FAST_LANE_SHARE,
            lane_count_ttl=lanes.LANE_COUNT_TTL, overflow_priority=lanes.OVERFLOW))
        args = list(call.args)
        default_ttl = settings.job_ttl
        default_delay = settings.job_max_delay
        for index, (job_id, job) in enumerate(zip(ids, batch, strict=True)):
            at = None if job.at is None else clock.iso(job.at)
            deadline = job.deadline(moment, default_delay)
            ttl = default_ttl if job.at is None else self._ttl_for(job)
            if deadline is not None:
                # The record must outlive the deadline, to say `expired` at it.
                ttl = max(ttl, int(deadline - moment) + 60)
            args += args_of(EnqueueJob(
                account_id=job.account_id, tweet_id=job.tweet_id, job_id=job_id,
                action=job.action,
                message=build_message(job.action, job_id, job.account_id, job.tweet_id,
                                      tags[index], queue=settings.queue),
                job_ttl=ttl,
                replaces=entries[index] if entries else None,
                due_ms=None if job.at is None else clock.ms(job.at),
                sent_event=events.body(SentJob(job_id, job.action, job.account_id,
                                               job.tweet_id, at)),
                # A retweet and its undo-after share one: they do not cancel each other.
                pair=job.pair,
                expires_ms=None if deadline is None else clock.ms(deadline)))
        return ids, self._scripts.enqueue.pack(call.keys, args)

    @staticmethod
    def _check_results(batch: list[JobRequest], ids: list[str], results: object,
                       before: list[str]) -> list[str]:
        """The batch's ids, or the first refused job's error (the batch's other jobs are
        enqueued: the error's `enqueued` names them after `before`, the earlier batches')."""
        parsed = enqueue_results(results, len(batch))
        if parsed is None:
            raise EnqueueError(f"Redis answered the enqueue script unexpectedly: {results!r:.200}",
                               enqueued=tuple(before))
        refused = [(job, result) for job, result in zip(batch, parsed, strict=True)
                   if isinstance(result, str)]
        if not refused:
            return ids
        enqueued = (*before, *(job_id for job_id, result in zip(ids, parsed, strict=True)
                               if isinstance(result, int)))
        job, reason = refused[0]
        if reason == "unknown_account":
            raise InvalidJob("account_id", f"unknown account {job.account_id}",
                             enqueued=enqueued)
        if reason == "no_such_entry":
            raise InvalidJob("id", "the dead-letter entry is gone (replayed already?)",
                             enqueued=enqueued)
        raise EnqueueError(f"Redis refused the job: {reason}", enqueued=enqueued)

    def _ttl_for(self, job: JobRequest) -> int:
        """A scheduled job's records must outlive its wait."""
        if job.at is None:
            return self._settings.job_ttl
        return self._settings.job_ttl + max(0, int(job.at - clock.now()))

    def _check_accounts(self, jobs: list[JobRequest]) -> None:
        accounts = sorted({job.account_id for job in jobs})
        if not accounts:
            return
        try:
            present = self._redis.hmget(self._keys.accounts, accounts)
        except redis.RedisError as exc:
            raise EnqueueError(
                f"Redis at {redact_url(self._settings.redis_url)} is unreachable: "
                f"{type(exc).__name__}"
            ) from None
        for account_id, token in zip(accounts, present, strict=True):
            if token is None:
                raise InvalidJob("account_id", f"unknown account {account_id} "
                                 "(add it with `rtq accounts add`)")

    def unknown_accounts(self, account_ids: Iterable[str]) -> set[str]:
        ids = sorted(set(account_ids))
        if not ids:
            return set()
        present = self._redis.hmget(self._keys.accounts, ids)
        return {a for a, token in zip(ids, present, strict=True) if token is None}


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        import os

        return f"uid {os.getuid()}"
