"""The job service: the one path every retweet/undo job takes, in plain Python.

    1. parse the message                    -> dead-letter `malformed_message`    (job.py)
    2. begin (one Lua script): register raw messages, drop duplicates, supersede older
       intents, claim the (account, tweet) pair with a lease, skip when the known state
       already matches, wait for a rate window or a held account    (scripts/begin.py)
    3. unseal the account's credentials     -> dead-letter `unknown_account`
    4. sign and call X                                                (x_api/client.py)
    5. settle (one Lua script): known state, status record, claim release, and parking
       (retry with backoff, or rate window) or a dead-letter entry   (settling.py)

Whether an error is retried, deferred or dead-lettered is decided here, from its type only.
"""

from __future__ import annotations

import logging
import random
import secrets
import socket
import time
from collections.abc import Mapping
from typing import Any

import redis

from worker.core import clock
from worker.core.errors import (
    AppHeld,
    HoldError,
    MalformedMessage,
    PermanentXError,
    RateLimited,
    RetryableXError,
    Unauthorized,
    XError,
    XServerError,
)
from worker.core.keys import Keys
from worker.core.settings import Settings
from worker.domain.accounts import AccountStore, CredentialsUnreadable, app_id
from worker.domain.job import Job, Outcome, Progress, log_outcome, parse_job
from worker.domain.scripts import Scripts
from worker.domain.scripts.begin import AppHeld as AppHeldVerdict
from worker.domain.scripts.begin import (
    BeginContext,
    Busy,
    Done,
    Expired,
    Go,
    Held,
    Mismatch,
    Paused,
    PausedByOperator,
    Poison,
    Skipped,
    Superseded,
    Wait,
    begin_call,
    parse_verdict,
)
from worker.domain.scripts.settle import Settlement
from worker.domain.settling import Settler
from worker.domain.token_refresh import RefreshBusy, TokenRefresher
from worker.x_api.client import XClient
from worker.x_api.oauth2 import OAuth2Credentials, TokenError

log = logging.getLogger("rtq.jobs")

# How long a job waits while another worker refreshes its account's OAuth 2.0 tokens.
BUSY_WAIT = 1.0
HELD_REAUTH = "held: the account needs re-authorization"
# What `handle` tells the task: the outcome, the attempts made so far, and why (for the log).
Result = tuple[Outcome, int, str | None]


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
        self._accounts = accounts
        self._x = x_client
        self._scripts = Scripts(client)
        self._worker = worker_name or socket.gethostname()
        self._settler = Settler(settings, client, self._scripts, worker=self._worker)
        self._refresher = TokenRefresher(client, Keys(settings.key_prefix), accounts,
                                         settings.oauth2_token_url)
        self._rng = rng or random.Random()
        self._default_app = app_id(settings.consumer_key) if settings.consumer_key else "default"
        self._app_of: dict[str, str] = {}
        self._begin = BeginContext(
            Keys(settings.key_prefix), self._default_app, settings.claim_lease_ms,
            settings.job_ttl, settings.max_deliveries, self._worker, settings.rate_limit,
            settings.rate_window, settings.breaker)

    def handle(
        self, action: str, job_id: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> Outcome:
        started = time.monotonic()
        try:
            job = parse_job(action, job_id, args, kwargs)
        except MalformedMessage as exc:
            self._settler.malformed(action, job_id, kwargs, str(exc))
            log_outcome(job_id, action, kwargs, Outcome.DEAD, 0, started, reason=exc.reason)
            return Outcome.DEAD
        outcome, attempts, reason = self._run(job)
        log_outcome(job.job_id, action, kwargs, outcome, attempts, started, reason=reason)
        return outcome

    def dead_letter_unprocessable(
        self, action: str, job_id: str, kwargs: Mapping[str, Any], exc: BaseException
    ) -> Outcome:
        """A bug met this job: keep it in the dead-letter queue rather than lose it."""
        detail = f"internal error: {type(exc).__name__}"
        self._settler.malformed(action, job_id, kwargs, detail, reason="internal_error")
        return Outcome.DEAD

    # -- the flow -------------------------------------------------------------------------

    def _run(self, job: Job) -> Result:
        """Begin, then act on the verdict (begin.lua counted the outcomes it settled)."""
        # Unique per delivery; it starts with the job id, so that whoever reads the pair's claim
        # (`rtq pair`, worker/ops/lookup.py) knows which job is running.
        token = f"{job.job_id}:{secrets.token_hex(16)}"
        now = clock.now()
        call = begin_call(self._begin, job, token=token, now_iso=clock.iso(now),
                          now_ms=clock.ms(now), message=self._settler.message(job),
                          jitter_ms=self._rng.randrange(1000))
        match parse_verdict(self._scripts.begin(call.keys, call.args), token):
            case Go(progress, sealed):
                return self._call(job, progress, sealed)
            case Done(state):
                why = "cancelled by an operator" if state == "cancelled" else "duplicate delivery"
                return Outcome(state), 0, why
            case Skipped():
                return Outcome.SKIPPED, 0, "known state already matches"
            case Superseded(by_job):
                return Outcome.SUPERSEDED, 0, f"superseded by job {by_job}"
            case Expired(deadline_ms):
                return Outcome.EXPIRED, 0, (f"not started by its deadline "
                                            f"{clock.iso_ms(deadline_ms)}")
            case Busy():
                return Outcome.DEFERRED, 0, None  # begin.lua parked it
            case Wait():
                return Outcome.DEFERRED, 0, "waiting for the rate window"
            case Held(state):
                return Outcome.DEFERRED, 0, f"held: the account is {state}"
            case AppHeldVerdict(app, reason):
                return Outcome.DEFERRED, 0, f"held: app {app} {reason}"
            case Paused():
                return Outcome.DEFERRED, 0, "paused: the circuit breaker holds calls to X back"
            case PausedByOperator(scope):
                return Outcome.DEFERRED, 0, f"paused: {scope} (rtq resume)"
            case Mismatch():
                # Leave the other job's record alone: only this message is bad.
                self._settler.malformed(job.action, job.job_id, job.as_kwargs(),
                                        "id: the job id belongs to a different job",
                                        touch_record=False)
                return Outcome.DEAD, 0, "malformed_message"
            case Poison(deliveries, progress):
                self._dead(job, progress, "redelivery_limit",
                           f"delivered {deliveries} times without finishing")
                return Outcome.DEAD, progress.attempts, "redelivery_limit"
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(self, job: Job, progress: Progress, sealed: str) -> Result:
        """Call X for a claimed job; `sealed` is the account's encrypted credentials entry
        as begin.lua read it with the claim ('' when none is stored)."""
        try:
            credentials = self._accounts.unseal(job.account_id, sealed)
        except CredentialsUnreadable as exc:
            return self._dead(job, progress, "unauthorized", str(exc))
        if credentials is None:
            return self._dead(job, progress, "unknown_account",
                              f"no credentials stored for account {job.account_id}")
        if isinstance(credentials, OAuth2Credentials):
            self._app_of[job.account_id] = app_id(credentials.client_id)
            try:
                credentials = self._refresher.fresh(job.account_id, credentials)
            except RefreshBusy:
                self._settle(job, progress, Settlement(Outcome.DEFERRED,
                                                       due=clock.now() + BUSY_WAIT))
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
                return self._dead(job, progress, exc.reason, exc.detail)
            return self._on_error(job, progress, exc, called_at)
        except XError as exc:
            return self._on_error(job, progress, exc, called_at)
        progress.attempts += 1
        progress.charged += 1
        self._settler.record(progress, called_at, "succeeded", answer.http_status)
        self._settle(job, progress, Settlement(
            Outcome.SUCCEEDED, known=answer.retweeted, rate=answer.rate,
            call_status=str(answer.http_status)))
        return Outcome.SUCCEEDED, progress.attempts, None

    def _on_error(self, job: Job, progress: Progress, exc: XError, called_at: float) -> Result:
        progress.attempts += 1
        status = str(exc.http_status) if exc.http_status else "none"
        if isinstance(exc, RateLimited):
            # Not a failure: wait for the window, spend no attempt.
            self._settler.record(progress, called_at, "rate_limited", exc.http_status)
            due = max(exc.reset_at, clock.now()) + self._rng.uniform(0.25, 1)
            self._settle(job, progress, Settlement(
                Outcome.DEFERRED, due=due, rate=exc.rate, rate_limited=True, call_status=status))
            return Outcome.DEFERRED, progress.attempts, None
        if isinstance(exc, HoldError):
            return self._hold(job, progress, exc, called_at, status)
        progress.charged += 1
        if isinstance(exc, RetryableXError):
            self._settler.record(progress, called_at, "error", exc.http_status, exc.detail)
            if progress.charged >= self._settings.max_attempts:
                return self._dead(job, progress, "retries_exhausted",
                                  f"{progress.charged} attempts failed; last: {exc.detail}",
                                  Settlement(Outcome.DEAD, http_status=exc.http_status,
                                             call_status=status))
            self._settle(job, progress, Settlement(
                Outcome.DEFERRED, due=clock.now() + self._backoff(progress.charged),
                http_status=exc.http_status, detail=exc.detail, rate=exc.rate,
                call_status=status))
            return Outcome.DEFERRED, progress.attempts, None
        assert isinstance(exc, PermanentXError)
        self._settler.record(progress, called_at, exc.reason, exc.http_status, exc.detail)
        return self._dead(job, progress, exc.reason, exc.detail, Settlement(
            Outcome.DEAD, http_status=exc.http_status, rate=exc.rate, call_status=status))

    def _hold(self, job: Job, progress: Progress, exc: HoldError, called_at: float,
              status: str) -> Result:
        """X refused the app or the account as a whole: this job and every other of theirs
        waits (no attempt spent, no dead letter) until released."""
        self._settler.record(progress, called_at, exc.reason, exc.http_status, exc.detail)
        if isinstance(exc, AppHeld):
            app = self._app(job)
            detail = f"held: app {app} {exc.reason} ({exc.detail})"
            settlement = Settlement(Outcome.DEFERRED, detail=detail, http_status=exc.http_status,
                                    rate=exc.rate, call_status=status, hold_app=app,
                                    hold_reason=exc.reason, hold_until=exc.until)
        else:
            detail = f"held: the account is {exc.reason} ({exc.detail})"
            settlement = Settlement(Outcome.DEFERRED, detail=detail, http_status=exc.http_status,
                                    rate=exc.rate, call_status=status, hold=True,
                                    account_state=exc.reason)
        self._settle(job, progress, settlement)
        return Outcome.DEFERRED, progress.attempts, detail.split(" (", 1)[0]

    def _on_token_error(self, job: Job, progress: Progress, exc: TokenError) -> Result:
        if exc.refused:
            # The grant is dead (revoked, or a refresh token already used): hold this job and
            # the account's others until it is re-authorized.
            self._accounts.mark_needs_reauth(job.account_id)
            self._settle(job, progress, Settlement(
                Outcome.DEFERRED, hold=True, detail=f"{HELD_REAUTH} ({exc.detail})"))
            log.warning("account %s needs re-authorization: %s", job.account_id, exc.detail)
            return Outcome.DEFERRED, progress.attempts, HELD_REAUTH
        due = clock.now() + self._backoff(max(1, progress.charged))
        self._settle(job, progress, Settlement(Outcome.DEFERRED, due=due, detail=exc.detail))
        return Outcome.DEFERRED, progress.attempts, None

    def _backoff(self, failures: int) -> float:
        """Exponential backoff with jitter: base * 2^(n-1), capped, then 50-100% of that."""
        ceiling = min(
            self._settings.retry_backoff_max, self._settings.retry_backoff * 2.0 ** (failures - 1)
        )
        return ceiling * self._rng.uniform(0.5, 1.0)

    # -- writes ---------------------------------------------------------------------------

    def _settle(self, job: Job, progress: Progress, settlement: Settlement) -> None:
        self._settler.settle(job, progress, settlement, app=self._app(job))

    def _dead(self, job: Job, progress: Progress, reason: str, detail: str,
              settlement: Settlement | None = None) -> Result:
        self._settler.dead(job, progress, reason, detail, app=self._app(job),
                           settlement=settlement)
        return Outcome.DEAD, progress.attempts, reason

    def _app(self, job: Job) -> str:
        return self._app_of.get(job.account_id, self._default_app)
