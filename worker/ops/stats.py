"""What the queue looks like right now, read from Redis: `rtq stats` prints it and `rtq metrics`
exposes it to Prometheus.

Everything comes from keys every worker and producer already writes (worker/core/keys.py), so one
reader covers every host and process; nothing here writes.

    queue depth       LLEN of every list of the Celery queue (RTQ_QUEUE and kombu's priority
                      lists, which rtq uses as fair lanes: worker/domain/lanes.py), in all
                      and by lane (fast, released, overflow)
    running           HLEN of kombu's `unacked` hash: delivered to a worker and not yet acked
                      (with acks_late and prefetch 1, a job being run; a dead worker's job stays
                      there until the visibility timeout restores it)
    parked            retry      the parked sorted set (backoff after a 5xx or timeout, or a
                                 busy pair)
                      rate_window  the `waiting` sorted sets of every group (account, endpoint)
                                 waiting for its rate window
                      reauthorization  the `held` lists of accounts that need new credentials
                                 or that X has locked or suspended
    dead letters      by reason, and the oldest entry's failure time
    outcomes, calls   the `outcomes` and `call_statuses` hashes (counters since Redis began)
    workers           heartbeat keys (each worker's main process renews its key every 2 s; it
                      expires 10 s after the worker stops), found through the `workers` index
                      (never a SCAN: a scrape's cost does not grow with the keyspace)
    accounts          state, app, rate limit, budgets and held jobs (AccountStore.list), and
                      how many are in each state (active, needs_reauth, locked, suspended)
    apps              the held apps (the `app_holds` sorted set and each app's hash and held
                      list: domain/holds.py), their reasons and the jobs waiting for them
    breaker           the circuit breaker's state for calls to X (closed, half_open, open)
    pauses            the operator's pauses in force (`rtq pause`: the `pauses` set, each
                      scope's start and the LLEN of its paused list: domain/pauses.py), and
                      the jobs they hold by kind of scope (all, account, tweet)
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import redis

from worker.core import clock
from worker.core.keys import Keys
from worker.core.settings import Settings
from worker.domain import lanes
from worker.domain.account_info import ACCOUNT_STATES, AccountInfo
from worker.domain.accounts import AccountStore
from worker.domain.dlq import REASONS
from worker.domain.holds import APP_REASONS, AppHold, BreakerStatus, Holds
from worker.domain.pauses import SCOPE_KINDS, Pause, Pauses
from worker.ops.latency import LatencyReader

PARKED_REASONS = ("retry", "rate_window", "reauthorization")
_DLQ_BATCH = 500


@dataclass(frozen=True)
class Snapshot:
    """The queue's state at `taken_at` (epoch seconds)."""

    taken_at: float
    queue_depth: int
    running: int
    parked: dict[str, int]
    waiting: dict[tuple[str, str], int]
    dead_letters: dict[str, int]
    dead_letter_oldest: float | None
    outcomes: dict[str, int]
    calls: dict[str, int]
    workers: dict[str, str]
    accounts: list[AccountInfo] = field(default_factory=list)
    apps: list[AppHold] = field(default_factory=list)
    breaker: BreakerStatus = field(default_factory=lambda: BreakerStatus("closed"))
    lanes: dict[str, int] = field(default_factory=dict)
    pauses: list[Pause] = field(default_factory=list)

    @property
    def paused_jobs(self) -> dict[str, int]:
        """Jobs held by pauses, by kind of scope (all, account, tweet; zero when none)."""
        counts = dict.fromkeys(SCOPE_KINDS, 0)
        for pause in self.pauses:
            counts[pause.kind] = counts.get(pause.kind, 0) + pause.held_jobs
        return counts

    @property
    def pauses_by_kind(self) -> dict[str, int]:
        """Pauses in force, by kind of scope."""
        counts = dict.fromkeys(SCOPE_KINDS, 0)
        for pause in self.pauses:
            counts[pause.kind] = counts.get(pause.kind, 0) + 1
        return counts

    def oldest_pause_age(self) -> dict[str, float]:
        """Seconds since the oldest pause of each kind began (0 when there is none)."""
        ages = dict.fromkeys(SCOPE_KINDS, 0.0)
        for pause in self.pauses:
            started = pause.started_at()
            if started is not None:
                ages[pause.kind] = max(ages.get(pause.kind, 0.0), self.taken_at - started)
        return ages

    @property
    def accounts_by_state(self) -> dict[str, int]:
        """Accounts in each state (every known state present, zero when none)."""
        counts = dict.fromkeys(ACCOUNT_STATES, 0)
        for info in self.accounts:
            counts[info.state] = counts.get(info.state, 0) + 1
        return counts

    @property
    def apps_by_reason(self) -> dict[str, int]:
        """Held apps by reason (every reason present, zero when none)."""
        counts = dict.fromkeys(APP_REASONS, 0)
        for hold in self.apps:
            counts[hold.reason] = counts.get(hold.reason, 0) + 1
        return counts

    @property
    def app_held_jobs(self) -> int:
        """Jobs waiting for held apps."""
        return sum(hold.held_jobs for hold in self.apps)

    @property
    def dead_letter_total(self) -> int:
        return sum(self.dead_letters.values())

    @property
    def dead_letter_oldest_age(self) -> float | None:
        """Seconds since the oldest dead letter failed, or None when there is none."""
        if self.dead_letter_oldest is None:
            return None
        return max(0.0, self.taken_at - self.dead_letter_oldest)

    def as_dict(self) -> dict[str, Any]:
        """The `rtq stats --json` document."""
        waiting_by_account: dict[str, dict[str, int]] = {}
        for (account_id, endpoint), count in self.waiting.items():
            waiting_by_account.setdefault(account_id, {})[endpoint] = count
        return {
            "taken_at": clock.iso(self.taken_at),
            "queue": self.queue_depth,
            "lanes": dict(self.lanes),
            "running": self.running,
            "parked": dict(self.parked),
            "dead_letters": {
                "total": self.dead_letter_total,
                "by_reason": {r: n for r, n in self.dead_letters.items() if n},
                "oldest_failed_at": (clock.iso(self.dead_letter_oldest)
                                     if self.dead_letter_oldest is not None else None),
            },
            "workers": [{"name": name, "last_beat": beat}
                        for name, beat in sorted(self.workers.items())],
            "outcomes": dict(sorted(self.outcomes.items())),
            "calls": dict(sorted(self.calls.items())),
            "accounts": [
                {**info.as_dict(), "waiting": waiting_by_account.get(info.account_id, {})}
                for info in self.accounts
            ],
            "accounts_by_state": self.accounts_by_state,
            "apps": {
                "held": len(self.apps),
                "held_jobs": self.app_held_jobs,
                "by_reason": self.apps_by_reason,
                "held_apps": [hold.as_dict() for hold in self.apps],
            },
            "breaker": self.breaker.as_dict(),
            "pauses": {
                "scopes": len(self.pauses),
                "held_jobs": sum(self.paused_jobs.values()),
                "by_kind": {kind: {"scopes": self.pauses_by_kind[kind], "held_jobs": jobs}
                            for kind, jobs in self.paused_jobs.items()},
                "paused": [pause.as_dict() for pause in self.pauses],
            },
        }


class StatsReader:
    """Reads a `Snapshot`. Long-lived readers (the metrics endpoint) remember each dead letter's
    reason by entry id, so a scrape reads only the entries added since the last one (entries
    never change; their ids are never reused)."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self._redis = client
        self._settings = settings
        self._keys = Keys(settings.key_prefix)
        self._accounts = AccountStore(client, self._keys)
        self._holds = Holds(client, self._keys, settings.queue_key)
        self._pauses = Pauses(client, self._keys)
        self._reasons: dict[str, str] = {}
        self._lock = threading.Lock()

    def latency_reader(self) -> LatencyReader:
        return LatencyReader(self._redis, self._keys, self._settings.queue_key)

    def snapshot(self) -> Snapshot:
        keys = self._keys
        taken_at = clock.now()
        pipe = self._redis.pipeline(transaction=False)
        for name in lanes.all_lanes(self._settings.queue_key):
            pipe.llen(name)
        pipe.hlen(self._settings.kombu_prefix + "unacked")
        pipe.zcard(keys.parked)
        pipe.zrange(keys.groups, 0, -1)
        pipe.hgetall(keys.outcomes)
        pipe.hgetall(keys.call_statuses)
        pipe.zrange(keys.dlq_index, 0, 0, withscores=True)
        *depths, running, parked_retry, groups, outcomes, calls, oldest = pipe.execute()
        by_lane = {lanes.LANE_NAMES[priority]: int(depth)
                   for priority, depth in zip(lanes.PRIORITY_STEPS, depths, strict=True)}
        queue_depth = sum(by_lane.values())
        waiting = self._waiting(groups)
        accounts = self._accounts.list()
        parked = {
            "retry": int(parked_retry),
            "rate_window": sum(waiting.values()),
            "reauthorization": sum(info.held for info in accounts),
        }
        return Snapshot(
            taken_at=taken_at,
            queue_depth=int(queue_depth),
            running=int(running),
            parked=parked,
            waiting=waiting,
            dead_letters=self._dead_letters(),
            dead_letter_oldest=float(oldest[0][1]) / 1000 if oldest else None,
            outcomes=_counts(outcomes),
            calls=_counts(calls),
            workers=self._workers(),
            accounts=accounts,
            apps=self._holds.apps(),
            breaker=self._holds.breaker(),
            lanes=by_lane,
            pauses=self._pauses.list(),
        )

    def _waiting(self, groups: list[str]) -> dict[tuple[str, str], int]:
        pairs = [tuple(group.rsplit(":", 1)) for group in groups if ":" in group]
        if not pairs:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for account_id, endpoint in pairs:
            pipe.zcard(self._keys.waiting(account_id, endpoint))
        return {(account_id, endpoint): int(count)
                for (account_id, endpoint), count in zip(pairs, pipe.execute(), strict=True)}

    def _dead_letters(self) -> dict[str, int]:
        """Entries by reason (every known reason present, zero when none)."""
        ids = self._redis.zrange(self._keys.dlq_index, 0, -1)
        with self._lock:
            unknown = [entry_id for entry_id in ids if entry_id not in self._reasons]
            for start in range(0, len(unknown), _DLQ_BATCH):
                chunk = unknown[start:start + _DLQ_BATCH]
                for entry_id, raw in zip(chunk, self._redis.hmget(self._keys.dlq_entries, chunk),
                                         strict=True):
                    if raw is not None:
                        self._reasons[entry_id] = _reason_of(raw)
            present = set(ids)
            for gone in [entry_id for entry_id in self._reasons if entry_id not in present]:
                del self._reasons[gone]
            counts = dict.fromkeys(REASONS, 0)
            for entry_id in ids:
                reason = self._reasons.get(entry_id)
                if reason is not None:
                    counts[reason] = counts.get(reason, 0) + 1
        return counts

    def _workers(self) -> dict[str, str]:
        """Alive workers (name -> last heartbeat, ISO): the names the `workers` index lists whose
        expiring heartbeat key is still there (Redis's TTL decides, not the clocks)."""
        names = self._redis.zrange(self._keys.workers, 0, -1)
        if not names:
            return {}
        beats = self._redis.mget([self._keys.worker(name) for name in names])
        return {name: beat for name, beat in zip(names, beats, strict=True) if beat is not None}


def _counts(fields: dict[str, str]) -> dict[str, int]:
    return {name: int(value) for name, value in fields.items() if value.lstrip("-").isdigit()}


def _reason_of(raw: str) -> str:
    try:
        reason = json.loads(raw).get("reason")
    except (ValueError, AttributeError):
        return "unreadable"
    return reason if isinstance(reason, str) else "unreadable"
