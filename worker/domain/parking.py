"""The parking lot: jobs waiting for a retry or a rate window, and the mover that re-publishes
them when due.

Waits never sit in a Celery ETA (on Redis an ETA longer than the visibility timeout is delivered
again, and ETA tasks are held in worker memory). A parked job is a sorted-set member scored by
its due time plus its ready-made message; every worker runs a mover, and the move is one Lua
script, so each due job is published exactly once whichever worker moves it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

import redis

from worker.core import clock
from worker.core.keys import Keys
from worker.core.settings import DEFAULT_JOB_TTL
from worker.domain import lanes
from worker.domain.deadlines import Deadlines
from worker.domain.holds import Holds
from worker.domain.scripts import Scripts
from worker.domain.scripts.contract import call_of
from worker.domain.scripts.queueing import MoveDueInput, ReleaseInput, count

log = logging.getLogger(__name__)

MOVE_INTERVAL = 0.25
MOVE_BATCH = 500
HOLDS_EVERY = 1.0


class Mover:
    def __init__(self, client: redis.Redis, keys: Keys, queue: str,
                 rate: tuple[int, int] = (50, 900), *, job_ttl: int = DEFAULT_JOB_TTL) -> None:
        self._keys = keys
        self._queue = queue
        self._rate_limit, self._rate_window = rate
        self._scripts = Scripts(client)
        self._holds = Holds(client, keys, queue)
        self._deadlines = Deadlines(client, keys, job_ttl)
        self._holds_checked = 0.0

    def move_due(self, now: float | None = None) -> int:
        """Expire the jobs whose deadline has come (first: a job due and past its deadline
        expires rather than being published), publish up to MOVE_BATCH due jobs, and release
        waiting jobs whose rate window has come; returns how many expired or moved."""
        moment = clock.now() if now is None else now
        keys, now_ms, now_iso = self._keys, clock.ms(moment), clock.iso(moment)
        move = call_of(MoveDueInput(
            parked=keys.parked, parked_messages=keys.parked_messages, queue=self._queue,
            seq=keys.seq, overflow_lane=lanes.lane(self._queue, lanes.OVERFLOW),
            now_ms=now_ms, batch_limit=MOVE_BATCH, job_key_prefix=keys.job(""),
            now_iso=now_iso, key_prefix=f"{keys.prefix}:", lane_share=lanes.FAST_LANE_SHARE,
            lane_count_ttl=lanes.LANE_COUNT_TTL, overflow_priority=lanes.OVERFLOW))
        release = call_of(ReleaseInput(
            groups=keys.groups, parked_messages=keys.parked_messages,
            released_lane=lanes.lane(self._queue, lanes.RELEASED), now_ms=now_ms,
            max_groups=MOVE_BATCH, key_prefix=f"{keys.prefix}:",
            default_limit=self._rate_limit, default_window=self._rate_window, now_iso=now_iso,
            released_priority=lanes.RELEASED))
        moved = self._deadlines.sweep(moment)
        moved += count(self._scripts.move_due(keys=move.keys, args=move.args))
        moved += count(self._scripts.release(keys=release.keys, args=release.args))
        if moment - self._holds_checked >= HOLDS_EVERY:
            # A usage cap ends with its period: no precision needed, once a second is plenty.
            self._holds_checked = moment
            moved += self._holds.release_ended(moment)
        return moved


HEARTBEAT_EVERY = 2.0
# Expiring old dead letters (RTQ_DLQ_TTL) needs no precision: once a minute is plenty.
HOUSEKEEPING_EVERY = 60.0
HEARTBEAT_TTL = 10
# A name in the heartbeat index whose worker has not beaten for this long is dropped from it.
HEARTBEAT_FORGET_MS = 60_000


class MoverThread(threading.Thread):
    """Runs `Mover.move_due` every MOVE_INTERVAL seconds until stopped, and keeps the worker's
    heartbeat (a key that expires HEARTBEAT_TTL seconds after the worker stops beating, listed
    in the `workers` index that readers use instead of scanning the keyspace)."""

    def __init__(self, mover: Mover, interval: float = MOVE_INTERVAL,
                 heartbeat: tuple[redis.Redis, Keys, str] | None = None,
                 housekeeping: Callable[[], object] | None = None) -> None:
        super().__init__(name="rtq-parking-mover", daemon=True)
        self._mover = mover
        self._heartbeat = heartbeat
        self._housekeeping = housekeeping
        self._last_beat = 0.0
        self._last_housekeeping = 0.0
        self._interval = interval
        self._stopped = threading.Event()
        self._failing = False

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                while self._mover.move_due() >= MOVE_BATCH:
                    pass
                self._beat()
                if (self._housekeeping is not None
                        and time.monotonic() - self._last_housekeeping >= HOUSEKEEPING_EVERY):
                    self._last_housekeeping = time.monotonic()
                    self._housekeeping()
                if self._failing:
                    log.info("parking mover: Redis reachable again")
                    self._failing = False
            except redis.RedisError as exc:
                # Redis restarting: keep trying quietly, say so once.
                if not self._failing:
                    log.warning("parking mover: Redis unavailable (%s); retrying",
                                type(exc).__name__)
                    self._failing = True

    def _beat(self) -> None:
        if self._heartbeat is None or time.monotonic() - self._last_beat < HEARTBEAT_EVERY:
            return
        client, keys, name = self._heartbeat
        now_ms = clock.ms(clock.now())
        pipe = client.pipeline(transaction=False)
        pipe.set(keys.worker(name), clock.now_iso(), ex=HEARTBEAT_TTL)
        pipe.zadd(keys.workers, {name: now_ms})
        pipe.zremrangebyscore(keys.workers, "-inf", now_ms - HEARTBEAT_FORGET_MS)
        pipe.execute()
        self._last_beat = time.monotonic()

    def stop(self) -> None:
        self._stopped.set()
        if self._heartbeat is not None:
            client, keys, name = self._heartbeat
            with contextlib.suppress(redis.RedisError):
                client.delete(keys.worker(name))
                client.zrem(keys.workers, name)
