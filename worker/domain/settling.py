"""Writing what became of a delivery: settle.lua for every job the service claimed or
examined, and a plain MULTI for the case settle.lua does not cover (a message too malformed to
be a job). (begin.lua parks a job whose pair another delivery holds.)

Every dead letter also goes to Sentry (one event per job, never per retry).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import redis

from worker.core import clock
from worker.core.keys import Keys
from worker.core.observability import report_dead_letter, report_transition
from worker.core.settings import Settings
from worker.domain.dlq import DeadLetter, DeadLetters, new_entry_id
from worker.domain.job import JOB_ID_RE, Job, Outcome, Progress, echo_field
from worker.domain.messages import ACTIONS, build_message
from worker.domain.scripts import Scripts
from worker.domain.scripts.settle import SettleContext, Settlement, settle_call, settle_events

log = logging.getLogger("rtq.jobs")


def announce(event: str, job: Job, settlement: Settlement, *, app: str) -> None:
    """One log line and one Sentry event for a transition settle.lua made (once, however many
    jobs meet the same condition)."""
    detail = settlement.detail
    if event == "app_held":
        until = (f" until {clock.iso(settlement.hold_until)}" if settlement.hold_until
                 else f" until released (rtq apps release {app})")
        message = f"app {app} held ({settlement.hold_reason}){until}: {detail}"
        log.warning(message)
        report_transition(message, hold="app", app=app, reason=settlement.hold_reason or "")
    elif event == "account_held":
        message = (f"account {job.account_id} {settlement.account_state} on X; its jobs wait "
                   f"(rtq accounts release {job.account_id}): {detail}")
        log.warning(message)
        report_transition(message, hold="account", account_id=job.account_id,
                          reason=settlement.account_state or "")
    elif event == "breaker_opened":
        message = "circuit breaker opened: calls to X fail; every worker pauses its calls"
        log.warning(message)
        report_transition(message, breaker="opened")
    elif event == "breaker_closed":
        message = "circuit breaker closed: X answered a probe; calls resume"
        log.warning(message)
        report_transition(message, level="info", breaker="closed")


class Settler:
    def __init__(self, settings: Settings, client: redis.Redis, scripts: Scripts,
                 *, worker: str) -> None:
        self._settings = settings
        self._redis = client
        self._keys = Keys(settings.key_prefix)
        self._scripts = scripts
        self._worker = worker
        self._context = SettleContext(self._keys, settings.known_state_ttl, settings.job_ttl,
                                      settings.rate_window, settings.breaker)
        self._dead_letters = DeadLetters(client, self._keys, max_entries=settings.dlq_max,
                                         ttl=settings.dlq_ttl)

    def message(self, job: Job) -> str:
        """The job's message, for a script that may put it back in the queue later."""
        return build_message(job.action, job.job_id, job.account_id, job.tweet_id,
                             queue=self._settings.queue)

    def record(self, progress: Progress, at: float, outcome: str, http_status: int | None,
               detail: str | None = None) -> None:
        """One attempt in the job's history (kept in its record and any dead letter)."""
        entry: dict[str, Any] = {
            "attempt": progress.attempts, "at": clock.iso(at), "outcome": outcome,
            "http_status": http_status, "worker": self._worker,
        }
        if detail:
            entry["detail"] = detail
        progress.history.append(entry)

    def settle(self, job: Job, progress: Progress, settlement: Settlement, *, app: str) -> None:
        """The outcome, and what X's answer said of the rate budgets, in one script call."""
        call = settle_call(self._context, job, progress, settlement, app=app,
                           message=self.message(job), now=clock.now())
        for event in settle_events(self._scripts.settle(call.keys, call.args)):
            announce(event, job, settlement, app=settlement.hold_app or app)
        if settlement.dead_letter is not None:
            # Housekeeping after the outcome is safe (a round trip only dead letters pay).
            self._dead_letters.trim()
            report_dead_letter(settlement.dead_letter)

    def dead(self, job: Job, progress: Progress, reason: str, detail: str, *, app: str,
             settlement: Settlement | None = None) -> None:
        """Dead-letter a job the service claimed; `settlement` carries the call's details."""
        base = settlement or Settlement(Outcome.DEAD)
        entry = DeadLetter(
            id=new_entry_id(), job_id=job.job_id, action=job.action, account_id=job.account_id,
            tweet_id=job.tweet_id, reason=reason, http_status=base.http_status, detail=detail,
            attempts=progress.attempts, failed_at=clock.now_iso(), history=tuple(progress.history),
        )
        self.settle(job, progress, Settlement(
            Outcome.DEAD, reason=reason, http_status=base.http_status, detail=detail,
            dead_letter=entry, rate=base.rate, call_status=base.call_status), app=app)

    def malformed(self, action: str, job_id: str, kwargs: Mapping[str, Any], detail: str,
                  reason: str = "malformed_message", *, touch_record: bool = True) -> None:
        """Dead-letter a message that is not a job we can act on, keeping only safe echoes of
        what it said."""
        now = clock.now()
        entry = DeadLetter(
            id=new_entry_id(), job_id=job_id or None,
            action=action if action in ACTIONS else None,
            account_id=echo_field(kwargs, "account_id"),
            tweet_id=echo_field(kwargs, "tweet_id"),
            reason=reason, http_status=None, detail=detail, attempts=0,
            failed_at=clock.iso(now),
        )
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._keys.dlq_entries, entry.id, entry.to_json())
        pipe.zadd(self._keys.dlq_index, {entry.id: clock.ms(now)})
        if job_id and touch_record and JOB_ID_RE.fullmatch(job_id):
            job_key = self._keys.job(job_id)
            pipe.hset(job_key, mapping={
                "action": entry.action or action, "account_id": entry.account_id or "",
                "tweet_id": entry.tweet_id or "", "state": "dead", "reason": reason,
                "detail": detail, "updated_at": clock.iso(now),
            })
            pipe.hsetnx(job_key, "created_at", clock.iso(now))
            pipe.hsetnx(job_key, "attempts", "0")
            pipe.expire(job_key, self._settings.job_ttl)
        pipe.hincrby(self._keys.outcomes, Outcome.DEAD.value, 1)
        minute = self._keys.minute_outcomes(clock.ms(now) // 60_000)
        pipe.hincrby(minute, Outcome.DEAD.value, 1)
        pipe.expire(minute, 7200)
        pipe.execute()
        self._dead_letters.trim()
        report_dead_letter(entry)
