"""Fair lanes (worker/domain/lanes.py): an account's backlog in the queue never stands in front of
another account's job, released jobs go behind fresh ones, and the per-account count of jobs in
the fast lane comes back to zero however jobs leave it."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

from kombu import Connection
from kombu.transport import redis as kombu_redis

from producers import JobRequest, Producer
from tests.support import Account, Rtq, wait_for
from worker.celery_adapter.transport import Transport
from worker.core.keys import Keys
from worker.core.settings import Settings
from worker.domain import lanes
from worker.domain.jobs import JobStatus, JobStore
from worker.domain.messages import build_message
from worker.domain.parking import Mover
from worker.embedded.servers import WorkerProcess

NO_LIMIT = 1_000_000


def _unlimited(rtq: Rtq, count: int) -> list[Account]:
    """Accounts that X and rtq let call as often as they like: their backlog stays queued."""
    rtq.admin.configure(rate_limit=NO_LIMIT)
    accounts = [rtq.add_account() for _ in range(count)]
    for account in accounts:
        rtq.accounts.set_rate_limit(account.account_id, (NO_LIMIT, 900))
    return accounts


def _held(rtq: Rtq, queue: str) -> Producer:
    """A producer for a queue no worker consumes: what it enqueues stays where it was put."""
    return Producer(rtq.redis, Settings.from_env({**rtq.env, "RTQ_QUEUE": queue}))


def _enqueue_retweets(rtq: Rtq, queue: str, account: Account, count: int) -> list[str]:
    """`count` retweets of one account on `queue`, which no worker consumes."""
    return _held(rtq, queue).enqueue_many(
        [JobRequest.create("retweet", account.account_id, str(t)) for t in range(count)])


def _priority(raw: str) -> int:
    return int(json.loads(raw)["properties"]["priority"])


def _lane_count(rtq: Rtq, account: Account) -> int:
    return int(rtq.redis.get(Keys().lane_count(account.account_id)) or 0)


def test_the_lanes_are_kombus_priority_lists() -> None:
    """rtq's lanes are the lists kombu's Redis transport BRPOPs, in its order."""
    assert list(lanes.PRIORITY_STEPS) == kombu_redis.PRIORITY_STEPS
    assert kombu_redis.Channel.sep == lanes.SEP
    assert lanes.FAST < lanes.RELEASED < lanes.OVERFLOW
    assert lanes.all_lanes("rtq") == ["rtq", "rtq\x06\x163", "rtq\x06\x166", "rtq\x06\x169"]


def _backlog_then_one_job(rtq: Rtq, busy: list[Account], per_account: int) -> None:
    idle = rtq.add_account()
    backlog = [JobRequest.create("retweet", busy[i % len(busy)].account_id, str(i))
               for i in range(per_account * len(busy))]
    rtq.producer.enqueue_many(backlog)
    job_id = rtq.producer.enqueue("retweet", idle.account_id, "1")
    (status,) = rtq.wait_terminal(job_id)
    assert status.state == "succeeded"
    busy_ids = {account.account_id for account in busy}
    calls = wait_for(lambda: (c := rtq.x_calls()) and len(c) == len(backlog) + 1 and c, 60,
                     "the backlog to be called")
    order = [c["user_id"] for c in sorted(calls, key=lambda c: c["seq"])]
    before = order.index(idle.account_id)
    assert set(order[:before]) <= busy_ids
    # In one FIFO queue the job would have waited for the whole backlog; in its lane it waits
    # only for what workers took while the backlog was being enqueued.
    assert before < len(backlog) // 4, f"{before} backlog calls went first"
    assert len(order) - before - 1 > len(backlog) // 2
    assert all(_lane_count(rtq, account) == 0 for account in busy)


def test_a_job_for_another_account_runs_before_one_accounts_queued_backlog(
        rtq: Rtq, worker: object) -> None:
    """1,000 jobs queued (not parked: the account may call at will) for one account, then one
    job for another account: it is called before most of the backlog."""
    _backlog_then_one_job(rtq, _unlimited(rtq, 1), 1000)


def test_a_job_for_another_account_runs_before_many_accounts_queued_backlogs(
        rtq: Rtq, worker: object) -> None:
    """The same with 5 busy accounts of 200 jobs each, interleaved."""
    _backlog_then_one_job(rtq, _unlimited(rtq, 5), 200)


def test_an_accounts_jobs_beyond_its_share_wait_in_the_overflow_lane(rtq: Rtq) -> None:
    """The first FAST_LANE_SHARE jobs of an account go to the queue itself, the others to the
    overflow lane, each message saying the priority of its list (kombu restores it there)."""
    account = rtq.add_account()
    queue = "rtq-lanes"
    extra = 3
    try:
        ids = _held(rtq, queue).enqueue_many(
            [JobRequest.create("retweet", account.account_id, str(t))
             for t in range(lanes.FAST_LANE_SHARE + extra)])
        fast = rtq.redis.lrange(queue, 0, -1)
        overflow = rtq.redis.lrange(lanes.lane(queue, lanes.OVERFLOW), 0, -1)
        assert (len(fast), len(overflow)) == (lanes.FAST_LANE_SHARE, extra)
        assert {_priority(raw) for raw in fast} == {0}
        assert {_priority(raw) for raw in overflow} == {lanes.OVERFLOW}
        assert _lane_count(rtq, account) == lanes.FAST_LANE_SHARE
        assert 0 < rtq.redis.ttl(Keys().lane_count(account.account_id)) <= lanes.LANE_COUNT_TTL
        # FIFO within the lane: the oldest overflow job is the next one out.
        assert json.loads(overflow[-1])["headers"]["id"] == ids[lanes.FAST_LANE_SHARE]
        assert lanes.queue_depth(rtq.redis, queue) == lanes.FAST_LANE_SHARE + extra
        # Another account still has its whole share.
        other = rtq.add_account()
        _held(rtq, queue).enqueue("retweet", other.account_id, "1")
        assert rtq.redis.llen(queue) == lanes.FAST_LANE_SHARE + 1
    finally:
        rtq.redis.delete(*lanes.all_lanes(queue))


def test_the_fast_lane_count_returns_to_zero_and_a_redelivery_is_not_counted_twice(
        rtq: Rtq, worker: object) -> None:
    """A job's place in the fast lane is given back once: a second copy of a delivered job
    (as a broker redelivery brings it) leaves the account's count alone."""
    account = rtq.add_account()
    rtq.admin.script([{"user_id": account.account_id,
                       "responses": [{"status": 200, "hang_seconds": 1}]}])
    running = rtq.producer.enqueue("retweet", account.account_id, "1")
    rtq.wait_state(running, "running")
    assert _lane_count(rtq, account) == 0
    # Given three more jobs of the account counted in a fast lane no worker consumes
    queue = "rtq-later"
    later = _held(rtq, queue).enqueue_many(
        [JobRequest.create("retweet", account.account_id, str(t)) for t in (2, 3, 4)])
    assert _lane_count(rtq, account) == 3
    # When a copy of the running job is delivered again
    rtq.redis.lpush(rtq.settings.queue_key,
                    build_message("retweet", running, account.account_id, "1"))
    wait_for(lambda: lanes.queue_depth(rtq.redis, rtq.settings.queue_key) == 0, 10,
             "the copy to be taken")
    (status,) = rtq.wait_terminal(running)
    wait_for(lambda: not rtq.redis.zcard("rtq:parked") and not rtq.redis.hlen("unacked"), 10,
             "the copy to finish")
    assert status.state == "succeeded"
    assert _lane_count(rtq, account) == 3
    # Then the held jobs reach workers and the count goes back to zero, its key gone
    while rtq.redis.rpoplpush(queue, rtq.settings.queue_key):
        pass
    statuses = rtq.wait_terminal(*later)
    assert {s.state for s in statuses} == {"succeeded"}
    assert not rtq.redis.exists(Keys().lane_count(account.account_id))


def test_released_jobs_go_to_the_released_lane(rtq: Rtq) -> None:
    """Jobs let out by their rate window wait behind fresh jobs, in the released lane, and
    their messages say so."""
    account = rtq.add_account()
    rtq.accounts.set_rate_limit(account.account_id, (2, 900))
    queue = "rtq-released"
    keys = Keys()
    now_ms = int(time.time() * 1000)
    # Given the account's window spent until a moment ago's reset, and 3 jobs waiting for it
    rtq.redis.hset(keys.budget(account.account_id, "retweet"),
                   mapping={"limit": 2, "remaining": 0, "reset": now_ms + 60_000})
    ids = _held(rtq, queue).enqueue_many(
        [JobRequest.create("retweet", account.account_id, str(t)) for t in range(3)])
    assert rtq.redis.zcard(keys.waiting(account.account_id, "retweet")) == 3
    assert lanes.queue_depth(rtq.redis, queue) == 0
    try:
        # When the window resets and the mover runs
        Mover(rtq.redis, keys, queue).move_due(now=now_ms / 1000 + 61)
        released = rtq.redis.lrange(lanes.lane(queue, lanes.RELEASED), 0, -1)
        assert [json.loads(raw)["headers"]["id"] for raw in reversed(released)] == ids[:2]
        assert {_priority(raw) for raw in released} == {lanes.RELEASED}
        assert rtq.redis.llen(queue) == 0
        assert [s.state for s in rtq.jobs.get_many(ids) if s] == ["queued", "queued", "deferred"]
    finally:
        rtq.redis.delete(*lanes.all_lanes(queue))


def test_stats_count_every_lane(rtq: Rtq) -> None:
    """`rtq stats` (and so `rtq metrics`) counts the queue's jobs in every lane."""
    account = rtq.add_account()
    queue = "rtq-counted"
    try:
        _enqueue_retweets(rtq, queue, account, lanes.FAST_LANE_SHARE + 2)
        rtq.redis.lpush(lanes.lane(queue, lanes.RELEASED),
                        build_message("retweet", "j-released", account.account_id, "99"))
        result = rtq.cli("stats", "--json", env={**rtq.env, "RTQ_QUEUE": queue})
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["queue"] == lanes.FAST_LANE_SHARE + 3
    finally:
        rtq.redis.delete(*lanes.all_lanes(queue))


def test_kombu_restores_an_unacked_message_to_the_lane_it_came_from(rtq: Rtq) -> None:
    """An unacked message (a dead worker's) goes back to the list its priority names: the
    overflow and released lanes keep their jobs behind fresh ones after a redelivery too."""
    account = rtq.add_account()
    queue = "rtq-restored"
    try:
        _enqueue_retweets(rtq, queue, account, lanes.FAST_LANE_SHARE + 1)
        taken = rtq.redis.rpop(lanes.lane(queue, lanes.OVERFLOW))
        released = build_message("retweet", "j-released", account.account_id, "99").replace(
            '"priority":0', f'"priority":{lanes.RELEASED}')
        with Connection(rtq.settings.redis_url, transport=Transport) as connection:
            channel = connection.default_channel
            with channel.conn_or_acquire() as client, client.pipeline() as pipe:
                for raw in (taken, released):
                    # What kombu does with a message whose visibility timeout ran out.
                    channel._do_restore_message(json.loads(raw), "", queue, pipe)
                pipe.execute()
        assert rtq.redis.llen(queue) == lanes.FAST_LANE_SHARE
        assert rtq.redis.llen(lanes.lane(queue, lanes.OVERFLOW)) == 1
        assert rtq.redis.llen(lanes.lane(queue, lanes.RELEASED)) == 1
    finally:
        rtq.redis.delete(*lanes.all_lanes(queue))


def test_workers_take_every_lane_of_a_prefixed_queue(rtq: Rtq, tmp_path: Path) -> None:
    """With RTQ_KEY_PREFIX, kombu prefixes its lists (global_keyprefix): the lanes producers
    write are the ones workers read."""
    env = dict(rtq.env, RTQ_KEY_PREFIX="rtqf", RTQ_QUEUE="rtqf")
    settings = Settings.from_env(env)
    assert settings.queue_key == "rtqf:rtqf"
    account = rtq.add_account()
    keys = Keys(settings.key_prefix)
    rtq.redis.hset(keys.accounts, account.account_id,
                   rtq.redis.hget(Keys().accounts, account.account_id) or "")
    try:
        ids = Producer(rtq.redis, settings).enqueue_many(
            [JobRequest.create("retweet", account.account_id, str(t))
             for t in range(lanes.FAST_LANE_SHARE + 2)])
        assert rtq.redis.llen(lanes.lane(settings.queue_key, lanes.OVERFLOW)) == 2
        jobs = JobStore(rtq.redis, keys)
        with WorkerProcess(env, log_path=str(tmp_path / "w.log"),
                           extra_args=("--concurrency", "1")):
            def finished() -> list[JobStatus] | None:
                found = jobs.get_many(ids)
                return [s for s in found if s] if all(s and s.terminal for s in found) else None

            statuses = wait_for(finished, 30, "the jobs to finish")
        assert {s.state for s in statuses} == {"succeeded"}
        assert lanes.queue_depth(rtq.redis, settings.queue_key) == 0
    finally:
        for key in rtq.redis.scan_iter("rtqf:*"):
            rtq.redis.delete(key)


def test_an_accounts_jobs_coming_due_at_once_take_its_share_too(rtq: Rtq) -> None:
    """Scheduled jobs (and retries) coming due together: the account's share of them goes to the
    fast lane, the rest to the overflow lane, as if just enqueued."""
    account = rtq.add_account()
    queue = "rtq-due"
    keys = Keys()
    at = time.time() + 60
    try:
        ids = _held(rtq, queue).enqueue_many(
            [JobRequest.create("retweet", account.account_id, str(t),
                               datetime.fromtimestamp(at, UTC))
             for t in range(lanes.FAST_LANE_SHARE + 2)])
        assert lanes.queue_depth(rtq.redis, queue) == 0 and _lane_count(rtq, account) == 0
        Mover(rtq.redis, keys, queue).move_due(now=at + 1)
        fast = rtq.redis.lrange(queue, 0, -1)
        overflow = rtq.redis.lrange(lanes.lane(queue, lanes.OVERFLOW), 0, -1)
        assert (len(fast), len(overflow)) == (lanes.FAST_LANE_SHARE, 2)
        assert {_priority(raw) for raw in overflow} == {lanes.OVERFLOW}
        assert _lane_count(rtq, account) == lanes.FAST_LANE_SHARE
        assert {s.state for s in rtq.jobs.get_many(ids) if s} == {"queued"}
    finally:
        rtq.redis.delete(*lanes.all_lanes(queue))


def test_a_message_for_a_custom_queue_is_restored_to_that_queue(rtq: Rtq) -> None:
    """RTQ_QUEUE set: kombu restores an unacked message to the queue its routing key names, so
    rtq's messages must name the configured queue, not `rtq` (which no worker would read)."""
    account = rtq.add_account()
    queue = "rtq-custom-restore"
    try:
        _held(rtq, queue).enqueue("retweet", account.account_id, "1")
        taken = json.loads(rtq.redis.rpop(queue))
        assert taken["properties"]["delivery_info"]["routing_key"] == queue
        with Connection(rtq.settings.redis_url, transport=Transport) as connection:
            channel = connection.default_channel
            with channel.conn_or_acquire() as client, client.pipeline() as pipe:
                # What QoS.restore_by_tag does with an unacked entry: its routing key.
                channel._do_restore_message(
                    taken, "", taken["properties"]["delivery_info"]["routing_key"], pipe)
                pipe.execute()
        assert rtq.redis.llen(queue) == 1
        assert rtq.redis.llen("rtq") == 0
    finally:
        rtq.redis.delete(*lanes.all_lanes(queue))
