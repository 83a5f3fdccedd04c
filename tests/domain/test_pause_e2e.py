"""A pause end to end, with real workers, against everything that can be waiting when it
begins: jobs in each lane of the queue (fast, overflow, released), waiting for a rate window,
parked for a retry, scheduled, held for their account; messages a worker had already
prefetched; and restarts of Redis and of the workers while paused. Nothing calls X while
paused, nothing is lost, and after `rtq resume` every job ends as it would have."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

from fake_x import EmulatorAdmin
from tests.support import Deployment, Rtq, wait_for
from worker.core.keys import Keys
from worker.domain import lanes
from worker.domain.lanes import queue_depth
from worker.domain.parking import Mover

KEYS = Keys()


def held(rtq: Rtq, scope: str) -> int:
    return int(rtq.redis.llen(KEYS.paused(scope)))


def lane_depth(rtq: Rtq, priority: int) -> int:
    return int(rtq.redis.llen(lanes.lane(rtq.settings.queue_key, priority)))


def nothing_waiting_elsewhere(rtq: Rtq) -> bool:
    """No job is anywhere but in a pause's list: the queue, the unacked hash, the parked set
    and the rate-window groups are empty."""
    return not (queue_depth(rtq.redis, rtq.settings.queue_key) or rtq.redis.hlen("unacked")
                or rtq.redis.zcard(KEYS.parked) or rtq.redis.zcard(KEYS.groups))


def test_a_pause_holds_jobs_from_every_lane_and_parked_state_and_resume_finishes_them(
    rtq_env: dict[str, str], admin: EmulatorAdmin, tmp_path: Path
) -> None:
    """At `rtq pause`: 4 jobs in the fast lane and 3 in the overflow lane, one released to the
    released lane and one still waiting for its rate window, one parked for a retry, one
    scheduled, two held for a locked account (released while paused, through the released
    lane). A new worker meets all 13 and holds them without a call; resumed, all succeed."""
    # (a retry backoff long enough that the parked retry is still parked at the pause)
    deployment = Deployment(rtq_env, admin, str(tmp_path),
                            RTQ_RETRY_BACKOFF="12", RTQ_RETRY_BACKOFF_MAX="12")
    try:
        _every_lane_and_parked_state(deployment)
    finally:
        deployment.close()


def _every_lane_and_parked_state(deployment: Deployment) -> None:
    rtq = deployment.rtq
    fast, slow, locked, flaky, later = (rtq.add_account() for _ in range(5))
    # Given a worker that leaves: a job waiting for its window (1 call per 3 s) ...
    rtq.admin.configure(user_rate_limits={slow.account_id: 1}, rate_window=3)
    rtq.accounts.set_rate_limit(slow.account_id, (1, 3))
    worker = deployment.start_worker(2)
    first = rtq.producer.enqueue("retweet", slow.account_id, "1")
    assert rtq.wait_terminal(first)[0].state == "succeeded"
    windowed = [rtq.producer.enqueue("retweet", slow.account_id, str(t)) for t in (2, 3)]
    wait_for(lambda: rtq.redis.zcard(KEYS.waiting(slow.account_id, "retweet")) == 2, 20,
             "two jobs waiting for the rate window")
    # ... two jobs held for an account X says is locked ...
    rtq.admin.add_condition("account_locked", user_id=locked.account_id, form="legacy")
    held_jobs = [rtq.producer.enqueue("retweet", locked.account_id, str(t)) for t in (1, 2)]
    wait_for(lambda: rtq.redis.llen(KEYS.held(locked.account_id)) == 2, 20, "two held jobs")
    rtq.admin.clear_conditions()
    # ... and one parked for a retry after a 503
    rtq.admin.script([{"user_id": flaky.account_id, "responses": [{"status": 503}]}])
    retried = rtq.producer.enqueue("retweet", flaky.account_id, "1")
    wait_for(lambda: rtq.redis.zscore(KEYS.parked, retried) is not None, 20, "the retry parked")
    worker.stop()
    assert rtq.redis.zscore(KEYS.parked, retried) is not None, "the retry ran before the stop"
    # With no worker: the window's first job released to the released lane (a mover's run) ...
    mover = Mover(deployment.redis_server.client(), KEYS, rtq.settings.queue_key)
    wait_for(lambda: mover.move_due() >= 0 and lane_depth(rtq, lanes.RELEASED) == 1, 20,
             "one job released by its rate window")
    # ... 7 jobs of one account: its share of the fast lane, the rest in the overflow lane ...
    queued = [rtq.producer.enqueue("retweet", fast.account_id, str(t)) for t in range(1, 8)]
    assert (lane_depth(rtq, lanes.FAST), lane_depth(rtq, lanes.OVERFLOW)) == (
        lanes.FAST_LANE_SHARE, 7 - lanes.FAST_LANE_SHARE)
    # ... and one scheduled a second from now
    at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    scheduled = rtq.producer.enqueue("retweet", later.account_id, "1", at=at)
    assert rtq.redis.zcard(KEYS.age("scheduled")) == 1
    assert rtq.redis.zcard(KEYS.waiting(slow.account_id, "retweet")) == 1
    calls_before = len(rtq.x_calls())
    every = [*queued, *windowed, *held_jobs, retried, scheduled]
    attempts = {s.job_id: s.attempts for s in rtq.jobs.get_many(every) if s}
    assert sorted(attempts.values()) == [0] * 11 + [1, 1]  # the retry's and the locked one's
    # When everything is paused, the locked account released meanwhile, and a worker starts
    assert rtq.cli("pause").returncode == 0
    released = rtq.cli("accounts", "release", locked.account_id)
    assert released.returncode == 0 and "2 held job(s)" in released.stdout, released.stderr
    deployment.start_worker(2)
    wait_for(lambda: held(rtq, "all") == len(every) and nothing_waiting_elsewhere(rtq), 60,
             "every job held by the pause")
    # Then none of them called X, spent an attempt or died
    assert len(rtq.x_calls()) == calls_before
    assert rtq.dead_letters.list() == []
    assert sorted(rtq.redis.lrange(KEYS.paused("all"), 0, -1)) == sorted(every)
    statuses = {s.job_id: s for s in rtq.jobs.get_many(every) if s}
    assert Counter(s.state for s in statuses.values()) == {"deferred": len(every)}
    assert {job_id: s.attempts for job_id, s in statuses.items()} == attempts
    # And resumed, every one of them succeeds, each with the one call it needed
    resumed = rtq.cli("resume")
    assert resumed.returncode == 0 and f"{len(every)} held job(s)" in resumed.stdout
    finished = rtq.wait_terminal(*every, timeout=60)
    assert Counter(s.state for s in finished) == {"succeeded": len(every)}
    assert rtq.status(retried).attempts == 2
    calls = rtq.x_calls()[calls_before:]
    assert sorted((c["user_id"], c["tweet_id"]) for c in calls) == sorted(
        (s.account_id, s.tweet_id) for s in finished)
    assert {c["status"] for c in calls} == {200}


def test_a_workers_prefetched_messages_of_a_paused_account_make_no_call(
    rtq_env: dict[str, str], admin: EmulatorAdmin, tmp_path: Path
) -> None:
    """A worker (one process, prefetching 4) busy with a call X holds: 3 messages of account A
    are already in it when A is paused. None of them calls X; resumed, they succeed."""
    deployment = Deployment(rtq_env, admin, str(tmp_path),
                            RTQ_HTTP_READ_TIMEOUT="15")
    try:
        rtq = deployment.rtq
        a, b = rtq.add_account(), rtq.add_account()
        rtq.admin.script([{"user_id": b.account_id,
                           "responses": [{"status": 200, "hang_seconds": 10}]}])
        deployment.start_worker(1, "--prefetch-multiplier", "4")
        busy = rtq.producer.enqueue("retweet", b.account_id, "1")
        wait_for(lambda: rtq.admin.in_flight() > 0, 20, "B's call to reach X")
        prefetched = [rtq.producer.enqueue("retweet", a.account_id, str(t)) for t in (1, 2, 3)]
        wait_for(lambda: rtq.redis.hlen("unacked") == 4, 10, "A's messages in the worker")
        assert queue_depth(rtq.redis, rtq.settings.queue_key) == 0
        assert rtq.cli("pause", "--account", a.account_id).returncode == 0
        assert rtq.admin.in_flight() > 0, "B's call ended before the pause"
        assert rtq.wait_terminal(busy, timeout=30)[0].state == "succeeded"
        wait_for(lambda: held(rtq, f"account:{a.account_id}") == 3, 20, "A's jobs held")
        assert rtq.x_calls(a.account_id) == []
        assert {s.attempts for s in rtq.jobs.get_many(prefetched) if s} == {0}
        assert rtq.cli("resume", "--account", a.account_id).returncode == 0
        done = rtq.wait_terminal(*prefetched, timeout=30)
        assert {s.state for s in done} == {"succeeded"}
        assert len(rtq.x_calls(a.account_id)) == 3
    finally:
        deployment.close()


def test_a_pause_and_its_jobs_survive_restarts_of_redis_and_of_the_workers(
    aof_deployment: Deployment
) -> None:
    """Everything and account A paused, 10 jobs held: Redis restarts (AOF), the worker is
    killed and another starts, producers keep enqueuing. Both pauses and all 12 jobs are
    still there, nothing called X; resuming everything lets B's jobs go and leaves A's to A's
    pause; resuming A, all 12 succeed."""
    rtq = aof_deployment.rtq
    a, b = rtq.add_account(), rtq.add_account()
    worker = aof_deployment.start_worker(2)
    assert rtq.cli("pause").returncode == 0
    assert rtq.cli("pause", "--account", a.account_id).returncode == 0
    jobs = [rtq.producer.enqueue("retweet", (a, b)[i % 2].account_id, str(10 + i))
            for i in range(10)]
    wait_for(lambda: held(rtq, "all") == 10, 20, "the jobs held by the pause")
    # When Redis restarts under the running worker, then the worker is killed and replaced
    aof_deployment.redis_server.restart()
    worker.kill()
    aof_deployment.start_worker(2)
    jobs += [rtq.producer.enqueue("retweet", x.account_id, "99") for x in (a, b)]
    wait_for(lambda: held(rtq, "all") == 12 and nothing_waiting_elsewhere(rtq), 30,
             "the jobs enqueued after the restarts held too")
    # Then both pauses and every job are still there, and nothing called X
    listed = {p["scope"]: p for p in map(json.loads,
                                         rtq.cli("pause", "--list", "--json").stdout.split())}
    assert set(listed) == {"all", f"account:{a.account_id}"}
    assert listed["all"]["held_jobs"] == 12 and listed["all"]["since"]
    assert sorted(rtq.redis.lrange(KEYS.paused("all"), 0, -1)) == sorted(jobs)
    assert rtq.x_calls() == []
    # Resuming everything: B's jobs run; A's meet A's own pause
    assert rtq.cli("resume").returncode == 0
    b_jobs = [job for job, s in zip(jobs, rtq.jobs.get_many(jobs), strict=True)
              if s and s.account_id == b.account_id]
    assert {s.state for s in rtq.wait_terminal(*b_jobs, timeout=30)} == {"succeeded"}
    wait_for(lambda: held(rtq, f"account:{a.account_id}") == 6, 20, "A's jobs held by A's pause")
    assert rtq.x_calls(a.account_id) == []
    # Resuming A: all 12 done, one call each
    assert rtq.cli("resume", "--account", a.account_id).returncode == 0
    assert {s.state for s in rtq.wait_terminal(*jobs, timeout=30)} == {"succeeded"}
    assert len(rtq.x_calls()) == 12
