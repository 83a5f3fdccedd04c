"""Hold states written as the worker's scripts write them (settle.lua holds an app or an
account, begin.lua keeps each later job in the held list with its message), for the tests of
what operators see and do: `rtq apps`, `rtq accounts release`, `rtq stats`, `rtq metrics`.
The path that creates holds from X's answers is tested end to end in tests/domain/test_holds.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from producers import JobRequest, Producer
from tests.support import Rtq
from worker.core import clock
from worker.core.keys import Keys
from worker.core.settings import Settings
from worker.domain import lanes

# A queue no worker consumes: held jobs released by a test stay where the test can count them.
IDLE_QUEUE = "rtq-holds-idle"


@dataclass
class Holding:
    """Writes hold states into the test's Redis, with jobs enqueued to `IDLE_QUEUE`."""

    rtq: Rtq
    env: dict[str, str]
    keys: Keys

    def jobs(self, account_id: str, tweets: range) -> dict[str, str]:
        """Enqueue one retweet per tweet and take their messages out of the idle queue, as a
        worker's delivery would: job id -> message."""
        producer = Producer(self.rtq.redis, Settings.from_env(self.env))
        producer.enqueue_many([JobRequest.create("retweet", account_id, str(t)) for t in tweets])
        messages = {}
        for lane in lanes.all_lanes(IDLE_QUEUE):
            while (raw := self.rtq.redis.rpop(lane)) is not None:
                messages[json.loads(raw)["headers"]["id"]] = raw
        return messages

    def hold_jobs(self, held_list: str, messages: dict[str, str], detail: str) -> list[str]:
        """What begin.lua's hold_in does for each job: in the held list, its message kept,
        its record deferred with the reason."""
        pipe = self.rtq.redis.pipeline(transaction=True)
        for job_id, message in messages.items():
            pipe.rpush(held_list, job_id)
            pipe.hset(self.keys.parked_messages, job_id, message)
            pipe.hset(self.keys.job(job_id), mapping={
                "state": "deferred", "updated_at": clock.now_iso(), "detail": detail})
        pipe.execute()
        return list(messages)

    def hold_app(self, app: str, reason: str, detail: str, *, until_ms: int | None = None,
                 http_status: int = 402, messages: dict[str, str] | None = None) -> list[str]:
        """Hold `app` as settle.lua does, and `messages`' jobs in its held list."""
        fields = {"state": "held", "reason": reason, "detail": detail,
                  "since": clock.now_iso(), "http_status": str(http_status)}
        if until_ms is not None:
            fields["until_ms"] = str(until_ms)
        self.rtq.redis.hset(self.keys.app(app), mapping=fields)
        self.rtq.redis.zadd(self.keys.app_holds,
                            {app: until_ms if until_ms is not None else float("inf")})
        why = f"held: app {app} {reason} (rtq apps release {app})"
        return self.hold_jobs(self.keys.app_held(app), messages or {}, why)

    def hold_account(self, account_id: str, state: str, detail: str,
                     messages: dict[str, str] | None = None) -> list[str]:
        """Mark the account locked or suspended as settle.lua does, and hold `messages`."""
        self.rtq.redis.hset(self.keys.account_meta(account_id), mapping={
            "state": state, "held_detail": detail, "held_since": clock.now_iso()})
        why = f"held: the account is {state} on X (rtq accounts release {account_id})"
        return self.hold_jobs(self.keys.held(account_id), messages or {}, why)

    def open_breaker(self, state: str = "open", until_ms: int | None = None) -> None:
        """The circuit breaker's hash as settle.lua writes it when it opens."""
        until = until_ms if until_ms is not None else clock.ms(clock.now()) + 15_000
        self.rtq.redis.hset(self.keys.breaker, mapping={
            "state": state, "until_ms": str(until), "probes": "0",
            "opened_at": clock.now_iso()})

    def released(self) -> int:
        """Messages in the idle queue's released lane."""
        return int(self.rtq.redis.llen(lanes.lane(IDLE_QUEUE, lanes.RELEASED)))


@contextmanager
def holding(rtq: Rtq) -> Iterator[Holding]:
    """A `Holding` on the test's Redis; the idle queue is emptied afterwards."""
    env = {**rtq.env, "RTQ_QUEUE": IDLE_QUEUE}
    try:
        yield Holding(rtq, env, Keys(rtq.settings.key_prefix))
    finally:
        rtq.redis.delete(*lanes.all_lanes(IDLE_QUEUE))
