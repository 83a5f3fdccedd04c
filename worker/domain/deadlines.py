"""Deadlines: a job not started by its deadline ends `expired`, makes no call to X and is no
dead letter.

A job's deadline comes from its producer (`expires_at`, or `max_delay` after it is due), from
RTQ_JOB_MAX_DELAY for a job enqueued without one, or from a raw message's Celery `expires`
header. It is kept twice: in the job's record (`expires_at_ms`), which begin.lua reads before
any call, so a job delivered late (from the queue, redelivered, prefetched) expires there;
and in one sorted set of the jobs that have one (`Keys.deadlines`), which every worker's mover
sweeps (expire.lua), so a job waiting anywhere else (a rate window that outlasts it, the
parking lot, a schedule, a hold, a pause) expires at its deadline, not when it next comes out.
Jobs without a deadline cost nothing here: no field, no member, and the sweep reads an empty
set.
"""

from __future__ import annotations

from datetime import UTC, datetime

import redis

from worker.core import clock
from worker.core.keys import Keys
from worker.domain.scripts import Scripts
from worker.domain.scripts.contract import call_of
from worker.domain.scripts.queueing import ExpireInput, count

SWEEP_BATCH = 500
# A running job past its deadline finishes; if it then waits (a retry), the sweep sees it again
# this long after.
RECHECK_MS = 1000
REASON = "not started by its deadline"
REASON_CELERY = "not started by its deadline (the message's expires)"


class Deadlines:
    def __init__(self, client: redis.Redis, keys: Keys, job_ttl: int) -> None:
        self._keys = keys
        self._job_ttl = job_ttl
        self._scripts = Scripts(client)

    def sweep(self, now: float | None = None) -> int:
        """Expire up to SWEEP_BATCH jobs whose deadline has come; returns how many expired."""
        return self._run(clock.now() if now is None else now, None, REASON)

    def expire_now(self, job_id: str, *, action: str | None = None,
                   account_id: str | None = None, tweet_id: str | None = None) -> bool:
        """Expire one job now (Celery dropped its message as expired): its record says so, and
        the outcome is counted, unless it is running or finished. The ids write a record for
        a job that has none yet. True if it expired here."""
        return self._run(clock.now(), job_id, REASON_CELERY, action, account_id, tweet_id) == 1

    def _run(self, now: float, job_id: str | None, reason: str, action: str | None = None,
             account_id: str | None = None, tweet_id: str | None = None) -> int:
        keys, now_ms = self._keys, clock.ms(now)
        call = call_of(ExpireInput(
            deadlines=keys.deadlines, parked=keys.parked, parked_messages=keys.parked_messages,
            outcomes=keys.outcomes, minute_outcomes=keys.minute_outcomes(now_ms // 60_000),
            latency=keys.latency, now_ms=now_ms, batch_limit=SWEEP_BATCH,
            key_prefix=f"{keys.prefix}:", now_iso=clock.iso(now), job_ttl=self._job_ttl,
            recheck_ms=RECHECK_MS, job_id=job_id, reason=reason, action=action,
            account_id=account_id, tweet_id=tweet_id))
        return count(self._scripts.expire(keys=call.keys, args=call.args))


def header_deadline_ms(value: object) -> int | None:
    """A raw message's Celery `expires` header (ISO-8601, as every Celery client writes it;
    a time without an offset is UTC, as Celery's default `enable_utc` reads it) as epoch ms;
    None when absent or unreadable (Celery itself refuses an unreadable one)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return clock.ms(moment.timestamp())
