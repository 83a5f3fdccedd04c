"""The scripts that put messages in the queue's lanes or note them leaving it: enqueue.lua
(producers), deliver.lua (the worker's main process, after BRPOP), move_due.lua and
release.lua (the mover), release_held.lua (an account's new credentials). Each input is a
dataclass in its header's order (`contract`); each reply is read here.
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.domain.scripts.contract import Key


@dataclass(slots=True)
class EnqueueInput:
    """What a batch of enqueue.lua shares; each job adds an `EnqueueJob` group."""

    accounts: Key
    seq: Key
    queue: Key
    parked: Key
    parked_messages: Key
    dlq_index: Key
    dlq_entries: Key
    groups: Key
    overflow_lane: Key
    deadlines: Key
    now_iso: str
    now_ms: int
    key_prefix: str
    default_limit: int
    default_window: int
    force: bool
    events_channel: str
    events_head: str
    events_tail: str
    lane_share: int
    lane_count_ttl: int
    overflow_priority: int


@dataclass(slots=True)
class EnqueueJob:
    account_id: str
    tweet_id: str
    job_id: str
    action: str
    message: str
    job_ttl: int
    replaces: str | None
    due_ms: int | None
    sent_event: str
    pair: str | None
    expires_ms: int | None


ENQUEUE_REFUSALS = ("unknown_account", "no_such_entry")


def enqueue_results(reply: object, expected: int) -> list[int | str] | None:
    """One result per job: its intent sequence number, or the refusal's name. None when the
    reply is not one result per job (the caller reports it)."""
    if not isinstance(reply, list) or len(reply) != expected:
        return None
    return [item if isinstance(item, int)
            else item.decode() if isinstance(item, bytes) else str(item) for item in reply]


@dataclass(slots=True)
class DeliverInput:
    job: Key
    intent: Key
    seq: Key
    lane_count: Key
    account_jobs: Key
    deadlines: Key
    job_id: str
    action: str
    account_id: str
    tweet_id: str
    now_iso: str
    job_ttl: int
    job_key_prefix: str
    now_ms: int
    expires_ms: int | None


@dataclass(slots=True)
class MoveDueInput:
    parked: Key
    parked_messages: Key
    queue: Key
    seq: Key
    overflow_lane: Key
    now_ms: int
    batch_limit: int
    job_key_prefix: str
    now_iso: str
    key_prefix: str
    lane_share: int
    lane_count_ttl: int
    overflow_priority: int


@dataclass(slots=True)
class ReleaseInput:
    groups: Key
    parked_messages: Key
    released_lane: Key
    now_ms: int
    max_groups: int
    key_prefix: str
    default_limit: int
    default_window: int
    now_iso: str
    released_priority: int


@dataclass(slots=True)
class ReleaseHeldInput:
    account_meta: Key
    held: Key
    parked_messages: Key
    released_lane: Key
    job_key_prefix: str
    now_iso: str
    released_priority: int
    age_key: str


@dataclass(slots=True)
class ReleaseAppInput:
    app_holds: Key
    parked_messages: Key
    released_lane: Key
    now_ms: int
    app_key_prefix: str
    job_key_prefix: str
    now_iso: str
    released_priority: int
    app: str | None
    age_key: str


@dataclass(slots=True)
class ResumeInput:
    pause: Key
    paused: Key
    pauses: Key
    parked: Key
    age: Key
    parked_messages: Key
    scope: str
    now_ms: int
    batch_limit: int
    first: bool
    released_before: int


def resumed(reply: object) -> tuple[int, int]:
    """resume.lua's reply: (jobs this call let go, jobs still in the paused list)."""
    if not isinstance(reply, list) or len(reply) != 2:
        raise ValueError(f"expected [released, left], got {reply!r:.80}")
    return int(reply[0]), int(reply[1])


def released_apps(reply: object) -> tuple[int, tuple[str, ...]]:
    """release_app.lua's reply: (jobs released, the apps it released)."""
    if not isinstance(reply, list) or not reply:
        raise ValueError(f"expected {{count, apps...}}, got {reply!r:.80}")
    return int(reply[0]), tuple(item.decode() if isinstance(item, bytes) else str(item)
                                for item in reply[1:])


def count(reply: object) -> int:
    """move_due, release and release_held answer how many jobs they published."""
    if not isinstance(reply, int | str | bytes):
        raise ValueError(f"expected a count, got {reply!r:.80}")
    return int(reply)


@dataclass(slots=True)
class ExpireInput:
    """expire.lua: end the jobs whose deadline has passed before they started (the mover), or
    one job Celery dropped as expired."""

    deadlines: Key
    parked: Key
    parked_messages: Key
    outcomes: Key
    minute_outcomes: Key
    latency: Key
    now_ms: int
    batch_limit: int
    key_prefix: str
    now_iso: str
    job_ttl: int
    recheck_ms: int
    job_id: str | None
    reason: str
    action: str | None
    account_id: str | None
    tweet_id: str | None


@dataclass(slots=True)
class TrimInput:
    """trim_dlq.lua: drop dead letters older than the TTL, then the oldest beyond the cap."""

    dlq_index: Key
    dlq_entries: Key
    max_entries: int
    oldest_kept_ms: int


def trimmed(reply: object) -> tuple[int, int]:
    """(removed for age, removed for the cap)."""
    if not isinstance(reply, list) or len(reply) != 2:
        raise ValueError(f"expected {{aged, capped}}, got {reply!r:.80}")
    return int(reply[0]), int(reply[1])
