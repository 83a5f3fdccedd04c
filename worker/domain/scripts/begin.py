"""begin.lua: may this delivery call X? Its input, built from a job, and its verdict, parsed.

One script call decides, atomically: a duplicate delivery, a newer intent, another delivery
holding the pair, a known state that already matches, a held account, an empty rate budget, a
poison message, or the claim is ours and the call may go ahead (with the account's sealed
credentials, so the call needs no round trip of its own to fetch them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from worker.core.keys import Keys
from worker.core.settings import BreakerSettings
from worker.domain.job import Job, Progress
from worker.domain.scripts.contract import Key, ScriptCall, packed_call_of


@dataclass(slots=True)
class BeginInput:
    job: Key
    intent: Key
    claim: Key
    known: Key
    seq: Key
    account_meta: Key
    budget: Key
    day_budget: Key
    app_day_budget: Key
    waiting: Key
    groups: Key
    parked_messages: Key
    held: Key
    accounts: Key
    outcomes: Key
    breaker: Key
    parked: Key
    minute_outcomes: Key
    latency: Key
    account_jobs: Key
    deadlines: Key
    job_id: str
    action: str
    account_id: str
    tweet_id: str
    now_iso: str
    lease_ms: int
    job_ttl: int
    max_deliveries: int
    worker: str
    claim_token: str
    now_ms: int
    default_limit: int
    default_window: int
    message: str
    group: str
    app_budget_prefix: str
    default_app: str
    app_key_prefix: str
    breaker_enabled: bool
    breaker_probes: int
    breaker_cooldown_ms: int
    jitter_ms: int
    age_prefix: str
    pause_prefix: str
    paused_prefix: str


@dataclass(frozen=True, slots=True)
class BeginContext:
    """What every begin call of one worker shares: settings, not the job."""

    keys: Keys
    default_app: str
    lease_ms: int
    job_ttl: int
    max_deliveries: int
    worker: str
    default_limit: int
    default_window: int
    breaker: BreakerSettings


def begin_call(context: BeginContext, job: Job, *, token: str, now_iso: str, now_ms: int,
               message: str, jitter_ms: int) -> ScriptCall:
    keys = context.keys
    account, tweet = job.account_id, job.tweet_id
    return packed_call_of(BeginInput(
        job=keys.job(job.job_id), intent=keys.intent(account, tweet),
        claim=keys.claim(account, tweet), known=keys.known(account, tweet), seq=keys.seq,
        account_meta=keys.account_meta(account), budget=keys.budget(account, job.action),
        day_budget=keys.day_budget(account), app_day_budget=keys.app_day_budget(
            context.default_app), waiting=keys.waiting(account, job.action),
        groups=keys.groups, parked_messages=keys.parked_messages, held=keys.held(account),
        accounts=keys.accounts, outcomes=keys.outcomes, breaker=keys.breaker,
        parked=keys.parked, minute_outcomes=keys.minute_outcomes(now_ms // 60_000),
        latency=keys.latency, account_jobs=keys.account_jobs(account),
        deadlines=keys.deadlines,
        job_id=job.job_id, action=job.action, account_id=account, tweet_id=tweet,
        now_iso=now_iso, lease_ms=context.lease_ms, job_ttl=context.job_ttl,
        max_deliveries=context.max_deliveries, worker=context.worker, claim_token=token,
        now_ms=now_ms, default_limit=context.default_limit,
        default_window=context.default_window, message=message, group=job.group,
        app_budget_prefix=keys.app_day_budget("").removesuffix(":day"),
        default_app=context.default_app, app_key_prefix=keys.app(""),
        breaker_enabled=context.breaker.enabled, breaker_probes=context.breaker.probes,
        breaker_cooldown_ms=context.breaker.cooldown * 1000, jitter_ms=jitter_ms,
        age_prefix=keys.age(""), pause_prefix=keys.pause(""), paused_prefix=keys.paused(""),
    ))


# -- verdicts -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Done:
    """Already terminal (a duplicate delivery): nothing to do."""

    state: str


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The job id belongs to a different job."""

    state: str


@dataclass(frozen=True, slots=True)
class Poison:
    """Delivered too often without settling."""

    deliveries: int
    progress: Progress


@dataclass(frozen=True, slots=True)
class Superseded:
    """A newer intent exists for the pair (settled by the script)."""

    by_job: str


@dataclass(frozen=True, slots=True)
class Expired:
    """Its deadline (`deadline_ms`) passed before it could start (settled by the script)."""

    deadline_ms: int


@dataclass(frozen=True, slots=True)
class Busy:
    """Another delivery holds the pair's claim."""

    holder: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """The known state already equals the desired one (settled by the script)."""

    known: str


@dataclass(frozen=True, slots=True)
class Held:
    """The account is held (`state`: needs_reauth, locked, suspended): the job waits in the
    account's held list."""

    state: str


@dataclass(frozen=True, slots=True)
class AppHeld:
    """The account's app is held by X (`reason`): the job waits in the app's held list."""

    app: str
    reason: str


@dataclass(frozen=True, slots=True)
class PausedByOperator:
    """An operator paused this work (`scope`: all, account:{id}, tweet:{id}): the job waits in
    that scope's paused list until `rtq resume`."""

    scope: str


@dataclass(frozen=True, slots=True)
class Paused:
    """The circuit breaker holds calls to X back: the job is parked until `due_ms`."""

    due_ms: int


@dataclass(frozen=True, slots=True)
class Wait:
    """No rate budget now: the job waits for its (account, endpoint) window (parked)."""

    due_ms: int


@dataclass(frozen=True, slots=True)
class Go:
    """The claim is ours: call X with the account's credentials, still sealed ('' if none)."""

    progress: Progress
    sealed: str


Verdict = (Done | Mismatch | Poison | Superseded | Busy | Skipped | Held | AppHeld
           | PausedByOperator | Paused | Wait | Go | Expired)


def parse_verdict(reply: list[str], token: str) -> Verdict:
    """begin.lua's reply (its header lists the shapes) as a verdict."""
    kind = reply[0]
    if kind == "go":
        return Go(_progress(reply[1:4], token), reply[4])
    if kind == "done":
        return Done(reply[1])
    if kind == "skipped":
        return Skipped(reply[1])
    if kind == "superseded":
        return Superseded(reply[1])
    if kind == "busy":
        return Busy(reply[1])
    if kind == "wait":
        return Wait(int(reply[1]))
    if kind == "held":
        return Held(reply[1])
    if kind == "app_held":
        return AppHeld(reply[1], reply[2])
    if kind == "paused":
        return PausedByOperator(reply[1])
    if kind == "breaker":
        return Paused(int(reply[1]))
    if kind == "expired":
        return Expired(int(reply[1]))
    if kind == "mismatch":
        return Mismatch(reply[1])
    if kind == "poison":
        return Poison(int(reply[1]), _progress(reply[2:5], token))
    raise ValueError(f"begin.lua answered an unknown verdict {kind!r}")


VERDICTS = {"done": Done, "mismatch": Mismatch, "poison": Poison, "superseded": Superseded,
            "busy": Busy, "skipped": Skipped, "held": Held, "app_held": AppHeld,
            "paused": PausedByOperator, "breaker": Paused, "wait": Wait, "go": Go,
            "expired": Expired}


def _progress(fields: list[str], token: str) -> Progress:
    attempts, charged, history = fields
    return Progress(int(attempts), int(charged), json.loads(history), token)
