"""settle.lua: a job's outcome in one script call. Its input is built here from what the
service decided (a `Settlement`); the script returns nothing worth parsing (1).

The script writes the status record, the known state, the claim's release, what X's answer
said of the rate budgets (observe.lua runs inside it), and either parking (deferred), holding
(the account needs re-authorization) or a dead-letter entry (dead), and the counters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from worker.core import clock
from worker.core.errors import RateInfo
from worker.core.keys import Keys
from worker.core.settings import BreakerSettings
from worker.domain.dlq import DeadLetter
from worker.domain.job import Job, Outcome, Progress
from worker.domain.scripts.contract import Key, ScriptCall, packed_call_of, tristate

# A reset X announces is stored a little later, so that a call made at the reset never lands
# just before X's window closes.
RESET_MARGIN_MS = 250


@dataclass(slots=True)
class SettleInput:
    job: Key
    claim: Key
    known: Key
    parked: Key
    parked_messages: Key
    dlq_index: Key
    dlq_entries: Key
    outcomes: Key
    call_statuses: Key
    budget: Key
    day_budget: Key
    app_day_budget: Key
    groups: Key
    account_meta: Key
    held: Key
    app_holds: Key
    breaker: Key
    breaker_window: Key
    breaker_previous: Key
    minute_outcomes: Key
    latency: Key
    deadlines: Key
    job_id: str
    state: str
    now_iso: str
    reason: str
    attempts: int
    charged: int
    history: str
    known_state: str
    known_ttl: int
    due_ms: int | None
    due_iso: str | None
    message: str
    dlq_entry_id: str | None
    dlq_entry: str | None
    now_ms: int
    job_ttl: int
    http_status: int | None
    detail: str
    claim_token: str
    call_status: str | None
    rate_observed: bool
    limit: int | None
    remaining: int | None
    reset_ms: int | None
    user_day_limit: int | None
    user_day_remaining: int | None
    user_day_reset_ms: int | None
    app_day_limit: int | None
    app_day_remaining: int | None
    app_day_reset_ms: int | None
    rate_limited: bool
    rate_window: int
    group: str
    credentials_refused: bool
    hold: bool
    hold_app: str | None
    hold_reason: str | None
    hold_until_ms: int | None
    app_key_prefix: str
    account_state: str | None
    breaker_outcome: str | None
    breaker_threshold: str
    breaker_min_calls: int
    breaker_window_ms: int
    breaker_cooldown_ms: int
    age_prefix: str


@dataclass(frozen=True, slots=True)
class Settlement:
    """What the service decided for one delivery. `call_status` is the HTTP status of the call
    this delivery made ("none" if X never answered), or None if it made no call."""

    outcome: Outcome
    known: bool | None = None
    due: float | None = None
    reason: str = ""
    http_status: int | None = None
    detail: str = ""
    dead_letter: DeadLetter | None = None
    rate: RateInfo | None = None
    rate_limited: bool = False
    call_status: str | None = None
    hold: bool = False
    hold_app: str | None = None
    hold_reason: str | None = None
    hold_until: float | None = None
    account_state: str | None = None


class SettleContext:
    """What every settle call of one worker shares: settings, and the keys that name no job
    (built once, not per call)."""

    def __init__(self, keys: Keys, known_ttl: int, job_ttl: int, rate_window: int,
                 breaker: BreakerSettings) -> None:
        self.keys = keys
        self.known_ttl = known_ttl
        self.job_ttl = job_ttl
        self.rate_window = rate_window
        self.breaker = breaker
        self.fixed: dict[str, Any] = {
            "parked": keys.parked, "parked_messages": keys.parked_messages,
            "dlq_index": keys.dlq_index, "dlq_entries": keys.dlq_entries,
            "outcomes": keys.outcomes, "call_statuses": keys.call_statuses,
            "groups": keys.groups, "app_holds": keys.app_holds, "breaker": keys.breaker,
            "latency": keys.latency, "deadlines": keys.deadlines,
            "app_key_prefix": keys.app(""),
            "known_ttl": known_ttl, "job_ttl": job_ttl, "rate_window": rate_window,
            "breaker_threshold": repr(breaker.threshold),
            "breaker_min_calls": breaker.min_calls, "breaker_window_ms": breaker.window * 1000,
            "breaker_cooldown_ms": breaker.cooldown * 1000, "age_prefix": keys.age(""),
        }


_NO_RATE = RateInfo(None, None, None)
_NO_DAY: tuple[int | None, int | None, float | None] = (None, None, None)


def settle_call(context: SettleContext, job: Job, progress: Progress, settlement: Settlement,
                *, app: str, message: str, now: float) -> ScriptCall:
    """`message` is the job's message, kept when the job waits (due or held)."""
    keys, s = context.keys, settlement
    rate = s.rate or _NO_RATE
    user_day = rate.user_day or _NO_DAY
    app_day = rate.app_day or _NO_DAY
    account = job.account_id
    now_ms = clock.ms(now)
    window_ms = context.breaker.window * 1000
    window = now_ms // window_ms
    return packed_call_of(SettleInput(
        job=keys.job(job.job_id), claim=keys.claim(account, job.tweet_id),
        known=keys.known(account, job.tweet_id),
        budget=keys.budget(account, job.action), day_budget=keys.day_budget(account),
        app_day_budget=keys.app_day_budget(app),
        account_meta=keys.account_meta(account), held=keys.held(account),
        job_id=job.job_id, state=s.outcome.value, now_iso=clock.iso(now), reason=s.reason,
        attempts=progress.attempts, charged=progress.charged,
        history=json.dumps(progress.history, separators=(",", ":")),
        known_state=tristate(s.known),
        due_ms=clock.ms(s.due) if s.due else None, due_iso=clock.iso(s.due) if s.due else None,
        message=message if s.due or s.hold or s.hold_app else "",
        dlq_entry_id=s.dead_letter.id if s.dead_letter else None,
        dlq_entry=s.dead_letter.to_json() if s.dead_letter else None, now_ms=now_ms,
        http_status=s.http_status, detail=s.detail,
        claim_token=progress.token, call_status=s.call_status,
        rate_observed=s.rate is not None or s.rate_limited,
        limit=rate.limit, remaining=rate.remaining, reset_ms=_reset_ms(rate.reset_at),
        user_day_limit=user_day[0], user_day_remaining=user_day[1],
        user_day_reset_ms=_reset_ms(user_day[2]),
        app_day_limit=app_day[0], app_day_remaining=app_day[1],
        app_day_reset_ms=_reset_ms(app_day[2]),
        rate_limited=s.rate_limited, group=job.group,
        credentials_refused=s.http_status == 401, hold=s.hold,
        breaker_window=keys.breaker_window(window),
        breaker_previous=keys.breaker_window(window - 1),
        minute_outcomes=keys.minute_outcomes(now_ms // 60_000),
        hold_app=s.hold_app, hold_reason=s.hold_reason,
        hold_until_ms=clock.ms(s.hold_until) if s.hold_until else None,
        account_state=s.account_state,
        breaker_outcome=breaker_outcome(s.call_status) if context.breaker.enabled else None,
        **context.fixed,
    ))


def breaker_outcome(call_status: str | None) -> str | None:
    """What a call tells the breaker: X answered ('ok', whatever it said, short of a 5xx), X
    failed ('fail': a 5xx or no answer), or there was no call (None)."""
    if call_status is None:
        return None
    if call_status == "none" or (call_status.isdigit() and int(call_status) >= 500):
        return "fail"
    return "ok"


def settle_events(reply: object) -> tuple[str, ...]:
    """The transitions settle.lua made (app_held, account_held, breaker_opened, ...)."""
    if not isinstance(reply, list):
        return ()
    return tuple(item.decode() if isinstance(item, bytes) else str(item) for item in reply)


def _reset_ms(reset_at: float | None) -> int | None:
    return None if reset_at is None else int(reset_at * 1000) + RESET_MARGIN_MS
