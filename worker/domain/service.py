"""The job service: the one path every retweet/undo job takes, in plain Python.

    1. parse the message               -> dead-letter `malformed_message`
    2. begin (one Lua script): register raw messages, drop duplicates, supersede older intents,
       claim the (account, tweet) pair with a lease, skip when the known state already matches
    3. load the account's credentials  -> dead-letter `unknown_account`
    4. sign and call X (`x_client`)
    5. settle (one Lua script): known state, status record, claim release, and parking
       (retry with backoff, or rate window) or a dead-letter entry

Whether an error is retried, deferred or dead-lettered is decided here, from its type only.
"""

from __future__ import annotations

import json
import logging
import random
import re
import secrets
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import redis

from worker.core import clock
from worker.core.errors import (
    MalformedMessage,
    PermanentXError,
    RateInfo,
    RateLimited,
    RetryableXError,
    Unauthorized,
    XError,
    XServerError,
)
from worker.core.ids import InvalidId, parse_account_id, parse_tweet_id
from worker.core.keys import Keys
from worker.core.observability import report_dead_letter
from worker.core.settings import Settings
from worker.domain.accounts import AccountStore, CredentialsUnreadable, app_id
from worker.domain.dlq import DeadLetter, DeadLetters, new_entry_id
from worker.domain.messages import ACTIONS, build_message
from worker.domain.scripts import Scripts
from worker.domain.token_refresh import RefreshBusy, TokenRefresher
from worker.x_api.client import XClient
from worker.x_api.oauth2 import OAuth2Credentials, TokenError

log = logging.getLogger("rtq.jobs")

_FIELDS = ("account_id", "tweet_id")
_MAX_ECHO = 40
_JOB_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
# How long a job waits when another job for the same pair is in flight.
BUSY_WAIT = 1.0
RESET_MARGIN_MS = 250


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"
    SUPERSEDED = "superseded"
    DEFERRED = "deferred"
    DEAD = "dead"


@dataclass(frozen=True)
class Job:
    job_id: str
    action: str
    account_id: str
    tweet_id: str

    @property
    def desired(self) -> bool:
        return self.action == "retweet"


@dataclass
class _Progress:
    """What the status record says of the job so far, and this delivery's claim token."""

    attempts: int
    charged: int
    history: list[dict[str, Any]] = field(default_factory=list)
    token: str = ""


def parse_job(action: str, job_id: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Job:
    """Validate a task message; raises MalformedMessage naming the field and the problem."""
    if action not in ACTIONS:
        raise MalformedMessage("task", f"unknown action {action!r}")
    if not _JOB_ID_RE.fullmatch(job_id or ""):
        raise MalformedMessage("id", "the task id must be 1-128 letters, digits or -_.:")
    if args:
        raise MalformedMessage("args", f"positional arguments are not accepted ({len(args)} given)")
    extra = sorted(str(k) for k in kwargs if k not in _FIELDS)
    if extra:
        raise MalformedMessage(extra[0], "unexpected keyword argument (only account_id, tweet_id)")
    values = {}
    for name in _FIELDS:
        if name not in kwargs:
            raise MalformedMessage(name, "missing")
        value = kwargs[name]
        if not isinstance(value, str):
            raise MalformedMessage(name, f"expected a JSON string, got {type(value).__name__}")
        try:
            values[name] = parse_account_id(value) if name == "account_id" else _tweet(value)
        except InvalidId as exc:
            raise MalformedMessage(name, str(exc)) from None
    return Job(job_id, action, values["account_id"], values["tweet_id"])


def _tweet(value: str) -> str:
    # Messages carry ids only; URLs are for producers to resolve.
    if "://" in value:
        raise InvalidId("expected 1-19 ASCII digits (messages carry ids, not URLs)")
    return parse_tweet_id(value)


def echo(value: Any) -> str | None:
    """A received value as far as it is safe to keep: short strings and ints only."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    if not text.isprintable():
        # Control characters would let a message forge log lines: replace them.
        text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= _MAX_ECHO else text[:_MAX_ECHO] + "..."


class JobService:
    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        accounts: AccountStore,
        x_client: XClient,
        *,
        worker_name: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._redis = client
        self._keys = Keys(settings.key_prefix)
        self._accounts = accounts
        self._x = x_client
        self._scripts = Scripts(client)
        self._dead_letters = DeadLetters(client, self._keys, max_entries=settings.dlq_max,
                                         ttl=settings.dlq_ttl)
        self._refresher = TokenRefresher(client, self._keys, accounts, settings.oauth2_token_url)
        self._worker = worker_name or socket.gethostname()
        self._rng = rng or random.Random()
        self._default_app = app_id(settings.consumer_key) if settings.consumer_key else "default"
        self._app_of: dict[str, str] = {}

    def handle(
        self, action: str, job_id: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> Outcome:
        started = time.monotonic()
        try:
            job = parse_job(action, job_id, args, kwargs)
        except MalformedMessage as exc:
            self._dead_letter_malformed(action, job_id, kwargs, str(exc))
            self._log(job_id, action, kwargs, Outcome.DEAD, 0, started, reason=exc.reason)
            return Outcome.DEAD
        outcome, attempts, reason = self._run(job)
        self._log(job.job_id, action, kwargs, outcome, attempts, started, reason=reason)
        return outcome

    # -- the flow -------------------------------------------------------------------------

    def _run(self, job: Job) -> tuple[Outcome, int, str | None]:
        keys = self._keys
        token = secrets.token_hex(16)
        now = clock.now()
        verdict = self._scripts.begin(
            keys=[
                keys.job(job.job_id),
                keys.intent(job.account_id, job.tweet_id),
                keys.claim(job.account_id, job.tweet_id),
                keys.known(job.account_id, job.tweet_id),
                keys.seq,
                keys.account_meta(job.account_id),
                keys.budget(job.account_id, job.action),
                keys.day_budget(job.account_id),
                keys.app_day_budget(self._default_app),
                keys.waiting(job.account_id, job.action),
                keys.groups,
                keys.parked_messages,
                keys.held(job.account_id),
                keys.accounts,
                keys.outcomes,
            ],
            args=[
                job.job_id, job.action, job.account_id, job.tweet_id, clock.iso(now),
                self._settings.claim_lease_ms, self._settings.job_ttl,
                self._settings.max_deliveries, self._worker, token, clock.ms(now),
                self._settings.rate_limit, self._settings.rate_window,
                self._message(job),
                f"{job.account_id}:{job.action}", keys.app_day_budget("").removesuffix(":day"),
            ],
        )
        kind = verdict[0]  # begin.lua counted the outcomes it settled or deferred
        if kind == "done":
            return Outcome(verdict[1]), 0, "duplicate delivery"
        if kind == "mismatch":
            # Leave the other job's record alone: only this message is bad.
            self._dead_letter_malformed(job.action, job.job_id, _as_kwargs(job),
                                        "id: the job id belongs to a different job",
                                        touch_record=False)
            return Outcome.DEAD, 0, "malformed_message"
        if kind == "superseded":
            return Outcome.SUPERSEDED, 0, f"superseded by job {verdict[1]}"
        if kind == "skipped":
            return Outcome.SKIPPED, 0, "known state already matches"
        if kind == "busy":
            self._park_busy(job)
            return Outcome.DEFERRED, 0, None
        if kind == "wait":
            return Outcome.DEFERRED, 0, "waiting for the rate window"
        if kind == "held":
            return Outcome.DEFERRED, 0, "held: the account needs re-authorization"
        if kind == "poison":
            progress = _Progress(int(verdict[2]), int(verdict[3]), json.loads(verdict[4]), token)
            self._settle_dead(job, progress, "redelivery_limit", None,
                              f"delivered {verdict[1]} times without finishing")
            return Outcome.DEAD, progress.attempts, "redelivery_limit"
        progress = _Progress(int(verdict[1]), int(verdict[2]), json.loads(verdict[3]), token)
        return self._call(job, progress, verdict[4])

    def _call(self, job: Job, progress: _Progress, sealed: str
              ) -> tuple[Outcome, int, str | None]:
        """Call X for a claimed job; `sealed` is the account's encrypted credentials entry
        as begin.lua read it with the claim ('' when none is stored)."""
        try:
            credentials = self._accounts.unseal(job.account_id, sealed)
        except CredentialsUnreadable as exc:
            self._settle_dead(job, progress, "unauthorized", None, str(exc))
            return Outcome.DEAD, progress.attempts, "unauthorized"
        if credentials is None:
            self._settle_dead(job, progress, "unknown_account", None,
                              f"no credentials stored for account {job.account_id}")
            return Outcome.DEAD, progress.attempts, "unknown_account"
        if isinstance(credentials, OAuth2Credentials):
            self._app_of[job.account_id] = app_id(credentials.client_id)
            try:
                credentials = self._refresher.fresh(job.account_id, credentials)
            except RefreshBusy:
                self._settle(job, progress, Outcome.DEFERRED, due=clock.now() + BUSY_WAIT)
                return Outcome.DEFERRED, progress.attempts, "tokens being refreshed"
            except TokenError as exc:
                return self._on_token_error(job, progress, exc)
        elif credentials.consumer_key:
            self._app_of[job.account_id] = app_id(credentials.consumer_key)
        called_at = clock.now()
        try:
            answer = self._x.set_retweeted(credentials, job.account_id, job.tweet_id, job.desired)
            if answer.retweeted != job.desired:
                raise XServerError(
                    f"X answered retweeted={str(answer.retweeted).lower()} to a {job.action}",
                    http_status=answer.http_status,
                )
        except Unauthorized as exc:
            if exc.http_status is None:  # no consumer key configured: nothing was sent
                self._settle_dead(job, progress, exc.reason, None, exc.detail)
                return Outcome.DEAD, progress.attempts, exc.reason
            return self._on_error(job, progress, exc, called_at)
        except XError as exc:
            return self._on_error(job, progress, exc, called_at)
        progress.attempts += 1
        progress.charged += 1
        self._record(progress, called_at, "succeeded", answer.http_status)
        self._settle(job, progress, Outcome.SUCCEEDED, known=answer.retweeted, rate=answer.rate,
                     call_status=str(answer.http_status))
        return Outcome.SUCCEEDED, progress.attempts, None

    def _on_error(
        self, job: Job, progress: _Progress, exc: XError, called_at: float
    ) -> tuple[Outcome, int, str | None]:
        progress.attempts += 1
        status = str(exc.http_status) if exc.http_status else "none"
        if isinstance(exc, RateLimited):
            # Not a failure: wait for the window, spend no attempt.
            self._record(progress, called_at, "rate_limited", exc.http_status)
            due = max(exc.reset_at, clock.now()) + self._rng.uniform(0.25, 1)
            self._settle(job, progress, Outcome.DEFERRED, due=due, rate=exc.rate,
                         rate_limited=True, call_status=status)
            return Outcome.DEFERRED, progress.attempts, None
        progress.charged += 1
        if isinstance(exc, RetryableXError):
            self._record(progress, called_at, "error", exc.http_status, exc.detail)
            if progress.charged >= self._settings.max_attempts:
                self._settle_dead(job, progress, "retries_exhausted", exc.http_status,
                                  f"{progress.charged} attempts failed; last: {exc.detail}",
                                  call_status=status)
                return Outcome.DEAD, progress.attempts, "retries_exhausted"
            due = clock.now() + self._backoff(progress.charged)
            self._settle(job, progress, Outcome.DEFERRED, due=due,
                         http_status=exc.http_status, detail=exc.detail, rate=exc.rate,
                         call_status=status)
            return Outcome.DEFERRED, progress.attempts, None
        assert isinstance(exc, PermanentXError)
        self._record(progress, called_at, exc.reason, exc.http_status, exc.detail)
        self._settle_dead(job, progress, exc.reason, exc.http_status, exc.detail, rate=exc.rate,
                          call_status=status)
        return Outcome.DEAD, progress.attempts, exc.reason

    def _on_token_error(self, job: Job, progress: _Progress, exc: TokenError
                        ) -> tuple[Outcome, int, str | None]:
        if exc.refused:
            # The grant is dead (revoked, or a refresh token already used): hold this job and
            # the account's others until it is re-authorized.
            self._accounts.mark_needs_reauth(job.account_id)
            self._settle(job, progress, Outcome.DEFERRED, hold=True,
                         detail=f"held: the account needs re-authorization ({exc.detail})")
            log.warning("account %s needs re-authorization: %s", job.account_id, exc.detail)
            return Outcome.DEFERRED, progress.attempts, "held: the account needs re-authorization"
        due = clock.now() + self._backoff(max(1, progress.charged))
        self._settle(job, progress, Outcome.DEFERRED, due=due, detail=exc.detail)
        return Outcome.DEFERRED, progress.attempts, None

    def _backoff(self, failures: int) -> float:
        """Exponential backoff with jitter: base * 2^(n-1), capped, then 50-100% of that."""
        ceiling = min(
            self._settings.retry_backoff_max, self._settings.retry_backoff * 2.0 ** (failures - 1)
        )
        return ceiling * self._rng.uniform(0.5, 1.0)

    # -- writes ---------------------------------------------------------------------------

    def _record(
        self, progress: _Progress, at: float, outcome: str, http_status: int | None,
        detail: str | None = None,
    ) -> None:
        entry: dict[str, Any] = {
            "attempt": progress.attempts, "at": clock.iso(at), "outcome": outcome,
            "http_status": http_status, "worker": self._worker,
        }
        if detail:
            entry["detail"] = detail
        progress.history.append(entry)

    def _settle(
        self, job: Job, progress: _Progress, outcome: Outcome, *, known: bool | None = None,
        due: float | None = None, reason: str = "", http_status: int | None = None,
        detail: str = "", dead_letter: DeadLetter | None = None,
        rate: RateInfo | None = None, rate_limited: bool = False,
        call_status: str | None = None, hold: bool = False,
    ) -> None:
        """Record the outcome, and what X's answer said of the rate budgets, in one script
        call (settle.lua). `call_status` is the HTTP status of the call this delivery made
        ("none" if X never answered), or None if it made no call."""
        now = clock.now()
        keys = self._keys
        observed = rate is not None or rate_limited
        info = rate or RateInfo(None, None, None)
        app = self._app_of.get(job.account_id, self._default_app)
        settle_keys = [
            keys.job(job.job_id), keys.claim(job.account_id, job.tweet_id),
            keys.known(job.account_id, job.tweet_id), keys.parked, keys.parked_messages,
            keys.dlq_index, keys.dlq_entries, keys.outcomes, keys.call_statuses,
            keys.budget(job.account_id, job.action), keys.day_budget(job.account_id),
            keys.app_day_budget(app), keys.groups, keys.account_meta(job.account_id),
            keys.held(job.account_id),
        ]
        settle_args = [
            job.job_id, outcome.value, clock.iso(now), reason, progress.attempts,
            progress.charged, json.dumps(progress.history, separators=(",", ":")),
            "" if known is None else ("1" if known else "0"), self._settings.known_state_ttl,
            clock.ms(due) if due else "", clock.iso(due) if due else "",
            self._message(job) if due or hold else "",
            dead_letter.id if dead_letter else "",
            dead_letter.to_json() if dead_letter else "", clock.ms(now),
            self._settings.job_ttl, "" if http_status is None else http_status, detail,
            progress.token, "" if call_status is None else call_status,
            "1" if observed else "",
            *_triple(info.limit, info.remaining, info.reset_at),
            *_triple(*(info.user_day or (None, None, None))),
            *_triple(*(info.app_day or (None, None, None))),
            "1" if rate_limited else "", self._settings.rate_window,
            f"{job.account_id}:{job.action}",
            "1" if http_status == 401 else "", "1" if hold else "",
        ]
        self._scripts.settle(settle_keys, settle_args)
        if dead_letter is not None:
            # Housekeeping after the outcome is safe (a round trip only dead letters pay).
            self._dead_letters.trim()

    def _settle_dead(
        self, job: Job, progress: _Progress, reason: str, http_status: int | None, detail: str,
        rate: RateInfo | None = None, call_status: str | None = None,
    ) -> None:
        entry = DeadLetter(
            id=new_entry_id(), job_id=job.job_id, action=job.action, account_id=job.account_id,
            tweet_id=job.tweet_id, reason=reason, http_status=http_status, detail=detail,
            attempts=progress.attempts, failed_at=clock.now_iso(), history=tuple(progress.history),
        )
        self._settle(job, progress, Outcome.DEAD, reason=reason, http_status=http_status,
                     detail=detail, dead_letter=entry, rate=rate, call_status=call_status)
        report_dead_letter(entry)

    def _message(self, job: Job) -> str:
        """The job's message, for a script that may put it back in the queue later."""
        return build_message(job.action, job.job_id, job.account_id, job.tweet_id,
                             queue=self._settings.queue)

    def _park_busy(self, job: Job) -> None:
        """Another delivery holds the pair: come back shortly, without touching its claim."""
        due = clock.now() + BUSY_WAIT * self._rng.uniform(0.5, 1.0)
        keys = self._keys
        pipe = self._redis.pipeline(transaction=True)
        pipe.zadd(keys.parked, {job.job_id: clock.ms(due)})
        pipe.hset(keys.parked_messages, job.job_id,
                  self._message(job))
        pipe.hset(keys.job(job.job_id), mapping={
            "state": "deferred", "due_at": clock.iso(due), "updated_at": clock.now_iso(),
        })
        pipe.execute()

    def dead_letter_unprocessable(
        self, action: str, job_id: str, kwargs: Mapping[str, Any], exc: BaseException
    ) -> Outcome:
        """A bug met this job: keep it in the dead-letter queue rather than lose it."""
        detail = f"internal error: {type(exc).__name__}"
        self._dead_letter_malformed(action, job_id, kwargs, detail, reason="internal_error")
        return Outcome.DEAD

    def _dead_letter_malformed(
        self, action: str, job_id: str, kwargs: Mapping[str, Any], detail: str,
        reason: str = "malformed_message", *, touch_record: bool = True,
    ) -> None:
        now = clock.now()
        entry = DeadLetter(
            id=new_entry_id(), job_id=job_id or None,
            action=action if action in ACTIONS else None,
            account_id=_echo_field(kwargs, "account_id"),
            tweet_id=_echo_field(kwargs, "tweet_id"),
            reason=reason, http_status=None, detail=detail, attempts=0,
            failed_at=clock.iso(now),
        )
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._keys.dlq_entries, entry.id, entry.to_json())
        pipe.zadd(self._keys.dlq_index, {entry.id: clock.ms(now)})
        if job_id and touch_record and _JOB_ID_RE.fullmatch(job_id):
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
        pipe.execute()
        self._dead_letters.trim()
        report_dead_letter(entry)

    def _log(
        self, job_id: str, action: str, kwargs: Mapping[str, Any], outcome: Outcome,
        attempts: int, started: float, *, reason: str | None,
    ) -> None:
        log.info(
            "job %s %s %s", job_id, action, outcome.value,
            extra={
                "job_id": job_id, "action": action,
                "account_id": _echo_field(kwargs, "account_id"),
                "tweet_id": _echo_field(kwargs, "tweet_id"),
                "outcome": outcome.value, "attempt": attempts, "reason": reason,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )


def _triple(limit: int | None, remaining: int | None, reset_at: float | None
            ) -> tuple[str, str, str]:
    """Header values for observe.lua: '' for absent; resets in ms, with a margin so that a
    call made at the reset never lands just before X's window closes."""
    return ("" if limit is None else str(limit), "" if remaining is None else str(remaining),
            "" if reset_at is None else str(int(reset_at * 1000) + RESET_MARGIN_MS))


def _echo_field(kwargs: object, name: str) -> str | None:
    return echo(kwargs.get(name)) if isinstance(kwargs, Mapping) else None


def _as_kwargs(job: Job) -> dict[str, str]:
    return {"account_id": job.account_id, "tweet_id": job.tweet_id}
