"""The last hour, minute by minute: how many jobs reached each outcome in each minute.

settle.lua counts every outcome in `{prefix}:stats:minute:{epoch_minute}` (a hash outcome ->
count, expiring after 2 hours: Keys.minute_outcomes); this reads the last `minutes` of them in
one pipeline. A minute nobody wrote (no jobs, or a Redis without the counters yet) reads as
zero, so the console draws an empty chart instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from worker.core import clock
from worker.core.keys import Keys

OUTCOMES = ("succeeded", "skipped", "superseded", "deferred", "dead", "cancelled", "expired")


@dataclass(frozen=True)
class Minute:
    """One minute's outcomes; `minute` is int(epoch seconds // 60)."""

    minute: int
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def last_minutes(client: redis.Redis, keys: Keys, minutes: int = 60,
                 now: float | None = None) -> list[Minute]:
    """The `minutes` minutes up to and including the current one, oldest first; every outcome
    of OUTCOMES present (0 when none), others as settle.lua wrote them."""
    current = int((clock.now() if now is None else now) // 60)
    wanted = list(range(current - minutes + 1, current + 1))
    pipe = client.pipeline(transaction=False)
    for minute in wanted:
        pipe.hgetall(keys.minute_outcomes(minute))
    history = []
    for minute, fields in zip(wanted, pipe.execute(), strict=True):
        counts = dict.fromkeys(OUTCOMES, 0)
        for name, value in fields.items():
            if value.isdigit():
                counts[name] = int(value)
        history.append(Minute(minute, counts))
    return history
