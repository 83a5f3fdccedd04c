"""An operator's pauses: everything, one account, or one tweet across accounts (`rtq pause`).

A pause is a key in Redis, so every worker obeys it at once and it outlives restarts. begin.lua
checks the three scopes that concern a delivered job before it calls X; a paused job goes to
its scope's paused list (its message kept), costing the workers nothing more until
`rtq resume`, which puts the list's jobs in the parking lot due now, in the order they came:
the mover then publishes them with each account's fair share of the queue, and each waits for
its rate budget as any job does. Producers keep enqueuing meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from worker.core import clock
from worker.core.ids import InvalidId, parse_account_id, parse_tweet_id
from worker.core.keys import Keys
from worker.domain.job_index import JobIndex
from worker.domain.scripts import Scripts
from worker.domain.scripts.contract import call_of
from worker.domain.scripts.queueing import ResumeInput, resumed

ALL = "all"
# Jobs resume.lua lets go per call: a few ms of Redis each, however large the pause.
RESUME_BATCH = 2000
# What a scope names: everything, one account, one tweet (the `kind` of stats and metrics).
SCOPE_KINDS = (ALL, "account", "tweet")


class ScopeError(ValueError):
    """A pause's scope is not valid; `fields` names the argument(s) (`account`, `tweet`), and
    the message reads as the CLI's options (`--account: ...`)."""

    def __init__(self, fields: tuple[str, ...], reason: str) -> None:
        super().__init__(f"{' and '.join(f'--{name}' for name in fields)}: {reason}")
        self.fields = fields
        self.reason = reason


class UnknownAccount(ScopeError):
    """An account scope rtq knows nothing of (no credentials, no jobs): most likely a typo,
    which would leave the account meant running."""

    def __init__(self, account_id: str) -> None:
        super().__init__(("account",), f"unknown account {account_id} (no credentials and no "
                         "jobs: `rtq accounts list` shows the accounts)")


def scope_of(account_id: str | None = None, tweet_id: str | None = None) -> str:
    """The scope an operator names: everything, an account, or a tweet (one at most); raises
    ScopeError naming the argument."""
    if account_id is not None and tweet_id is not None:
        raise ScopeError(("account", "tweet"), "give one of them, or neither for everything")
    try:
        if account_id is not None:
            return f"account:{parse_account_id(account_id)}"
        if tweet_id is not None:
            return f"tweet:{parse_tweet_id(tweet_id)}"
    except InvalidId as exc:
        raise ScopeError(("account" if account_id is not None else "tweet",), str(exc)) \
            from None
    return ALL


@dataclass(frozen=True)
class Pause:
    scope: str
    since: str | None
    held_jobs: int

    @property
    def kind(self) -> str:
        """all, account or tweet."""
        return self.scope.split(":", 1)[0]

    def started_at(self) -> float | None:
        """When the pause began (epoch seconds), if its start reads as a time."""
        try:
            return datetime.fromisoformat(self.since).timestamp() if self.since else None
        except ValueError:
            return None

    def as_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "kind": self.kind, "since": self.since,
                "held_jobs": self.held_jobs}


class Pauses:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def pause(self, scope: str) -> bool:
        """Pause `scope`; False if it was paused already (its start is kept). An account
        rtq knows nothing of raises UnknownAccount."""
        if scope.startswith("account:"):
            account_id = scope.removeprefix("account:")
            if not JobIndex(self._redis, self._keys).knows_account(account_id):
                raise UnknownAccount(account_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(self._keys.pause(scope), clock.now_iso(), nx=True)
        pipe.sadd(self._keys.pauses, scope)
        started, _ = pipe.execute()
        return bool(started)

    def resume(self, scope: str, *, batch: int = RESUME_BATCH) -> int | None:
        """End the pause of `scope`; how many held jobs go back (None: it was not paused).
        They go a batch per script call (resume.lua), each in intent order."""
        if not self._redis.exists(self._keys.pause(scope)):
            return None
        keys, scripts = self._keys, Scripts(self._redis)
        now_ms = clock.ms(clock.now())
        released, left, first = 0, 1, True
        while left:
            call = call_of(ResumeInput(
                pause=keys.pause(scope), paused=keys.paused(scope), pauses=keys.pauses,
                parked=keys.parked, age=keys.age("paused"),
                parked_messages=keys.parked_messages, scope=scope, now_ms=now_ms,
                batch_limit=batch, first=first, released_before=released))
            going, left = resumed(scripts.resume(keys=call.keys, args=call.args))
            if going < 0:
                break  # paused again meanwhile: the rest waits for that pause's resume
            released, first = released + going, False
        return released

    def list(self) -> list[Pause]:
        scopes = sorted(self._redis.smembers(self._keys.pauses))
        pipe = self._redis.pipeline(transaction=False)
        for scope in scopes:
            pipe.get(self._keys.pause(scope))
            pipe.llen(self._keys.paused(scope))
        replies = pipe.execute()
        return [Pause(scope, since, int(held)) for scope, since, held
                in zip(scopes, replies[::2], replies[1::2], strict=True)]
