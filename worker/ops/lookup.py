"""One (account, tweet) pair as the keys say it is (`rtq pair`, the console's pair lookup): what
X last told rtq (the known state, and when), the latest intent and its job, the job running
(the claim) and the jobs waiting with why, the pair's scheduled jobs, and what in force now
would hold a job of the pair back (a pause, a held account or app, the breaker, a spent rate
window).

These are the keys begin.lua and settle.lua decide on (worker/core/keys.py, docs/redis-keys.md),
read in two pipelined round trips, whatever else Redis holds. Reading never changes them.

When X said the known state is derived, not stored: settle.lua sets the key with a TTL of
RTQ_KNOWN_STATE_TTL when X answers, so it was said RTQ_KNOWN_STATE_TTL minus the time left ago
(exact while the setting is the one the workers ran with; a changed setting shifts it by the
difference).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis

from worker.core import clock
from worker.core.keys import Keys
from worker.ops.finding import JobSummary, summaries

HELD_ACCOUNT_STATES = ("needs_reauth", "locked", "suspended")


@dataclass(frozen=True)
class Condition:
    """Something in force now that holds a job of the pair back before it may call X."""

    kind: str            # pause, hold, breaker, rate_window
    detail: str
    until: str | None    # when it ends by itself (None: until an operator, or X, ends it)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "detail": self.detail, "until": self.until}


@dataclass(frozen=True)
class PairState:
    account_id: str
    tweet_id: str
    known: str | None          # "retweeted", "not retweeted", or None: rtq does not know
    known_ttl: int | None      # seconds rtq keeps trusting it
    intent: dict[str, str]     # {seq, job, action} of the latest intent; empty: none
    claim: str | None          # the claim token (`{job_id}:{hex}`) of the delivery holding it
    claim_ttl_ms: int | None   # what is left of its lease
    scheduled: list[tuple[str, str]]  # (job id, due ISO time), soonest first
    known_said_at: str | None = None  # when X said it (derived, see the module's docstring)
    claim_job: str | None = None      # the job id in the claim token
    running: JobSummary | None = None  # the claim's job
    latest: JobSummary | None = None   # the latest intent's job
    scheduled_jobs: list[JobSummary] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)

    @property
    def waiting(self) -> list[JobSummary]:
        """The pair's jobs that wait (deferred), soonest due first (no due time: last)."""
        jobs = {j.job_id: j for j in [self.latest, *self.scheduled_jobs]
                if j is not None and j.state == "deferred"}
        return sorted(jobs.values(), key=lambda j: (j.wait is None or j.wait.due_at is None,
                                                   j.wait.due_at if j.wait else ""))

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of `rtq pair --json` (and the HTTP API's)."""
        intent = self.intent
        seq = intent.get("seq", "")
        return {
            "account_id": self.account_id,
            "tweet_id": self.tweet_id,
            "intent": {"seq": int(seq) if seq.isdigit() else None, "job_id": intent.get("job"),
                       "action": intent.get("action")} if intent else None,
            "known": {"state": self.known, "said_at": self.known_said_at,
                      "trusted_for_s": self.known_ttl} if self.known is not None else None,
            "running": {**self.running.as_dict(), "lease_left_ms": self.claim_ttl_ms}
            if self.running else (
                {"job_id": self.claim_job, "lease_left_ms": self.claim_ttl_ms}
                if self.claim else None),
            "latest_job": self.latest.as_dict() if self.latest else None,
            "waiting": [j.as_dict() for j in self.waiting],
            "scheduled": [{"job_id": job, "due_at": due,
                           "action": next((s.action for s in self.scheduled_jobs
                                           if s.job_id == job), None)}
                          for job, due in self.scheduled],
            "held_back_by": [c.as_dict() for c in self.conditions],
        }


def read_pair(client: redis.Redis, keys: Keys, account_id: str, tweet_id: str, *,
              known_state_ttl: int | None = None, default_app: str | None = None) -> PairState:
    """What rtq knows of the pair. `known_state_ttl` (RTQ_KNOWN_STATE_TTL) lets it say when X
    said the known state; `default_app` (RTQ_CONSUMER_KEY's app id) lets it see a hold of the
    app the account calls X as when the account has no app of its own."""
    pipe = client.pipeline(transaction=False)
    pipe.get(keys.known(account_id, tweet_id))
    pipe.pttl(keys.known(account_id, tweet_id))
    pipe.hgetall(keys.intent(account_id, tweet_id))
    pipe.get(keys.claim(account_id, tweet_id))
    pipe.pttl(keys.claim(account_id, tweet_id))
    pipe.zrange(keys.scheduled(account_id, tweet_id), 0, -1, withscores=True)
    for scope in _scopes(account_id, tweet_id):
        pipe.get(keys.pause(scope))
    pipe.hmget(keys.account_meta(account_id), ["state", "app"])
    pipe.hmget(keys.breaker, ["state", "until_ms"])
    known, known_pttl, intent, claim, claim_pttl, scheduled, *rest = pipe.execute()
    pauses, (account_state, own_app), breaker = rest[:3], rest[3], rest[4]
    now_ms = clock.ms(clock.now())
    known_left = int(known_pttl) if known is not None and int(known_pttl) >= 0 else None
    claim_job = claim.rsplit(":", 1)[0] if claim and ":" in claim else claim
    app = own_app if own_app and own_app != "default" else default_app

    # The second round trip: the jobs named above, the budget the latest intent spends, the app.
    job_ids = [j for j in (intent.get("job"), claim_job) if j] + [j for j, _ in scheduled]
    found = {s.job_id: s for s in summaries(client, keys, list(dict.fromkeys(job_ids))) if s}
    pipe = client.pipeline(transaction=False)
    endpoint = intent.get("action") or "retweet"
    pipe.hmget(keys.budget(account_id, endpoint), ["remaining", "reset"])
    pipe.hmget(keys.budget(account_id, "day"), ["remaining", "reset"])
    if app:
        pipe.hmget(keys.app(app), ["state", "reason", "until_ms"])
    budget, day, *app_hold = pipe.execute()

    conditions = [Condition("pause", f"paused: {scope} (rtq resume)", None)
                  for scope, since in zip(_scopes(account_id, tweet_id), pauses, strict=True)
                  if since is not None]
    if account_state in HELD_ACCOUNT_STATES:
        conditions.append(Condition("hold", f"account {account_id} is {account_state}", None))
    if app and app_hold and app_hold[0][0] == "held":
        until = _int(app_hold[0][2])
        if until is None or until > now_ms:
            conditions.append(Condition(
                "hold", f"app {app} is held: {app_hold[0][1] or 'held'} (rtq apps release {app})",
                clock.iso_ms(until) if until else None))
    if breaker[0] in ("open", "half_open"):
        until = _int(breaker[1])
        conditions.append(Condition("breaker", f"the circuit breaker is {breaker[0]}: calls to "
                                    "X are paused", clock.iso_ms(until) if until else None))
    for name, (remaining, reset) in ((endpoint, budget), ("24-hour", day)):
        left, ends = _int(remaining), _int(reset)
        if left is not None and left <= 0 and ends is not None and ends > now_ms:
            conditions.append(Condition("rate_window", f"the {name} budget of account "
                                        f"{account_id} is spent", clock.iso_ms(ends)))

    return PairState(
        account_id=account_id, tweet_id=tweet_id,
        known={"1": "retweeted", "0": "not retweeted"}.get(known or ""),
        known_ttl=known_left // 1000 if known_left is not None else None,
        intent=dict(intent),
        claim=claim,
        claim_ttl_ms=int(claim_pttl) if claim is not None and int(claim_pttl) >= 0 else None,
        scheduled=[(job_id, clock.iso(due / 1000)) for job_id, due in scheduled],
        known_said_at=(clock.iso_ms(now_ms + known_left - known_state_ttl * 1000)
                       if known_left is not None and known_state_ttl is not None else None),
        claim_job=claim_job,
        running=found.get(claim_job) if claim_job else None,
        latest=found.get(intent.get("job", "")),
        scheduled_jobs=[found[j] for j, _ in scheduled if j in found],
        conditions=conditions,
    )


def _scopes(account_id: str, tweet_id: str) -> tuple[str, str, str]:
    return ("all", f"account:{account_id}", f"tweet:{tweet_id}")


def _int(value: object) -> int | None:
    text = str(value) if value is not None else ""
    return int(text) if text.lstrip("-").isdigit() else None
