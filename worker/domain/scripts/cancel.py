"""cancel.lua: an operator cancels a batch of jobs. Its input (`CancelInput`, then one
`CancelJob` group per job) and its reply, one word per job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from worker.domain.scripts.contract import Key

JobResult = Literal["cancelled", "running", "finished", "missing"]
RESULTS: tuple[JobResult, ...] = ("cancelled", "running", "finished", "missing")


@dataclass(slots=True)
class CancelInput:
    """What a batch shares."""

    parked: Key
    parked_messages: Key
    outcomes: Key
    minute_outcomes: Key
    latency: Key
    key_prefix: str
    now_iso: str
    now_ms: int
    reason: str
    job_ttl: int


@dataclass(slots=True)
class CancelJob:
    job_id: str


def cancel_results(reply: object, expected: int) -> list[JobResult]:
    """One word per job, in the order they were sent; raises ValueError on any other reply."""
    if not isinstance(reply, list) or len(reply) != expected:
        raise ValueError(f"expected {expected} results, got {reply!r:.80}")
    words = [item.decode() if isinstance(item, bytes) else str(item) for item in reply]
    unknown = [word for word in words if word not in RESULTS]
    if unknown:
        raise ValueError(f"cancel.lua answered an unknown result {unknown[0]!r}")
    return cast(list[JobResult], words)
