"""Jobs survive dead workers, poison messages, Redis restarts and shutdowns; nothing is lost and
nothing is done twice."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_x import EmulatorAdmin
from producers import EnqueueError
from tests.support import Deployment, Rtq, pool_children, wait_for
from worker.celery_adapter.runtime import build_service
from worker.core.keys import Keys
from worker.core.redis_client import connect
from worker.domain.messages import build_message
from worker.domain.parking import Mover


def test_a_sigkilled_workers_job_is_finished_by_another_within_60_seconds(
    rtq_env: dict[str, str], admin: EmulatorAdmin, tmp_path: Path
) -> None:
    """Default visibility timeout (30 s): the job of a SIGKILLed worker completes elsewhere."""
    # Given worker A (production timeouts) in the middle of a call that X holds for 8 s
    deployment = Deployment(rtq_env, admin, str(tmp_path), RTQ_HTTP_READ_TIMEOUT="10")
    request_close = deployment.close
    rtq = deployment.rtq
    account = rtq.add_account()
    rtq.admin.script([{"user_id": account.account_id,
                       "responses": [{"status": 200, "hang_seconds": 8}]}])
    victim = deployment.start_worker()
    job_id = rtq.producer.enqueue("retweet", account.account_id, "1")
    rtq.wait_state(job_id, "running", timeout=10)
    wait_for(lambda: rtq.admin.in_flight() > 0, 10, "the call to reach X")
    deployment.start_worker()
    # When A is killed outright (main process and pool)
    killed_at = time.monotonic()
    victim.kill()
    # Then worker B finishes the job within 60 seconds, with one extra call at most
    (status,) = rtq.wait_terminal(job_id, timeout=60)
    recovery = time.monotonic() - killed_at
    assert status.state == "succeeded" and recovery < 60
    # The abandoned call still completed at X; the retry found the retweet already there.
    calls = rtq.x_calls(account.account_id)
    assert [c["changed"] for c in calls] == [True, False]
    print(f"recovery after SIGKILL: {recovery:.1f}s")
    request_close()


def test_a_poison_message_is_dead_lettered_after_the_delivery_limit(
    rtq_env: dict[str, str], admin: EmulatorAdmin, tmp_path: Path
) -> None:
    """A job whose worker process dies every time is delivered RTQ_MAX_DELIVERIES times, then
    dead-lettered as redelivery_limit; the worker keeps serving."""
    # (a short visibility timeout keeps the claim lease of each killed delivery short)
    deployment = Deployment(rtq_env, admin, str(tmp_path), RTQ_MAX_DELIVERIES="3",
                            RTQ_VISIBILITY_TIMEOUT="10")
    try:
        rtq = deployment.rtq
        account = rtq.add_account()
        rtq.admin.script([{"user_id": account.account_id, "tweet_id": "66",
                           "responses": [{"status": 200, "hang_seconds": 30}] * 10}])
        worker = deployment.start_worker()
        job_id = rtq.producer.enqueue("retweet", account.account_id, "66")
        # The job kills its pool process every time it runs (here: we kill it mid-call).
        for delivery in range(1, 4):
            wait_for(lambda: rtq.admin.in_flight() > 0, 20, f"delivery {delivery} to call X")
            for child in pool_children(worker.pid):
                os.kill(child, signal.SIGKILL)
            wait_for(lambda d=delivery: rtq.redis.hget(f"rtq:job:{job_id}", "deliveries")
                     != str(d), 20, f"delivery {delivery} to end")
        (status,) = rtq.wait_terminal(job_id, timeout=30)
        assert (status.state, status.reason) == ("dead", "redelivery_limit")
        (entry,) = rtq.dead_letters.list()
        assert entry.reason == "redelivery_limit" and "delivered 4 times" in entry.detail
        assert rtq.redis.hget(f"rtq:job:{job_id}", "attempts") == "0"
        # And the worker still serves
        (ok,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", account.account_id, "67"))
        assert ok.state == "succeeded"
    finally:
        deployment.close()


def test_workers_survive_a_redis_restart_during_consumption(aof_deployment: Deployment) -> None:
    """Redis restarts (AOF) while 300 jobs flow: every job ends, none is lost, no worker restart."""
    rtq = aof_deployment.rtq
    rtq.admin.configure(rate_limit=10_000, latency_ms=5)
    accounts = [rtq.add_account().account_id for _ in range(3)]
    aof_deployment.start_worker(2)
    ids = [rtq.producer.enqueue("retweet", accounts[i % 3], str(i)) for i in range(300)]
    wait_for(lambda: sum(s.terminal for s in rtq.jobs.get_many(ids) if s) >= 30, 20,
             "some jobs to finish")
    aof_deployment.redis_server.restart()
    # Producers fail loudly while Redis is away, and work again once it is back.
    later = wait_for(lambda: _try_enqueue(rtq, accounts[0], "9999"), 20, "Redis to accept jobs")
    statuses = rtq.wait_terminal(*ids, later, timeout=90)
    assert {s.state for s in statuses} <= {"succeeded"}
    assert len(aof_deployment.workers) == 1 and aof_deployment.workers[0].process.poll() is None


def _try_enqueue(rtq: object, account_id: str, tweet: str) -> str | None:
    try:
        return rtq.producer.enqueue("retweet", account_id, tweet)  # type: ignore[attr-defined]
    except EnqueueError:
        return None


def test_warm_shutdown_finishes_in_flight_jobs_and_loses_none(deployment: Deployment) -> None:
    """SIGTERM mid-call: the running job finishes, queued ones wait for the next worker, and
    each job calls X exactly once."""
    rtq = deployment.rtq
    account = rtq.add_account()
    # (a hold shorter than the suite's 1.5 s read timeout)
    rtq.admin.script([{"user_id": account.account_id, "tweet_id": "1",
                       "responses": [{"status": 200, "hang_seconds": 1}]}])
    worker = deployment.start_worker()
    first = rtq.producer.enqueue("retweet", account.account_id, "1")
    rest = [rtq.producer.enqueue("retweet", account.account_id, str(t)) for t in range(2, 6)]
    rtq.wait_state(first, "running")
    worker.stop(timeout=30)
    assert worker.process.returncode == 0
    assert rtq.status(first).state == "succeeded"
    deployment.start_worker()
    statuses = rtq.wait_terminal(first, *rest)
    assert [s.state for s in statuses] == ["succeeded"] * 5
    calls = rtq.x_calls(account.account_id)
    assert sorted(c["tweet_id"] for c in calls) == ["1", "2", "3", "4", "5"]


def test_due_jobs_are_published_exactly_once_by_racing_movers(deployment: Deployment) -> None:
    """Eight movers at once over 3,000 due jobs: each job reaches the queue once."""
    rtq = deployment.rtq
    keys = Keys(rtq.settings.key_prefix)
    pipe = rtq.redis.pipeline()
    for i in range(3000):
        job_id = f"job-{i}"
        pipe.zadd(keys.parked, {job_id: 0})
        pipe.hset(keys.parked_messages, job_id, build_message("retweet", job_id, "1", str(i)))
    pipe.execute()
    movers = [Mover(deployment.redis_server.client(), keys, "moved") for _ in range(8)]
    threads = [threading.Thread(target=lambda m=m: [m.move_due() for _ in range(10)])
               for m in movers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    published = rtq.redis.lrange("moved", 0, -1)
    assert len(published) == 3000 == len(set(published))
    assert rtq.redis.zcard(keys.parked) == 0 and rtq.redis.hlen(keys.parked_messages) == 0


def test_job_records_expire(deployment: Deployment) -> None:
    """Every job record carries a TTL of RTQ_JOB_TTL."""
    rtq = deployment.rtq
    account = rtq.add_account()
    job_id = rtq.producer.enqueue("retweet", account.account_id, "1")
    ttl = rtq.redis.ttl(f"rtq:job:{job_id}")
    assert 0 < ttl <= rtq.settings.job_ttl
    assert rtq.redis.ttl(f"rtq:intent:{account.account_id}:1") > 0



@pytest.mark.parametrize("raw_first", [True, False])
def test_raw_and_producer_messages_are_ordered_by_acceptance(
    deployment: Deployment, raw_first: bool
) -> None:
    """A raw send_task and a producer job for one pair, queued before any worker runs: the one
    Redis accepted last wins, whichever kind it is."""
    rtq = deployment.rtq
    account = rtq.add_account()
    rtq.admin.set_state(account.account_id, "5", not raw_first)
    kwargs = {"account_id": account.account_id, "tweet_id": "5"}
    if raw_first:
        older = rtq.send_task("rtq.retweet", kwargs=kwargs)
        newer = rtq.producer.enqueue("undo", account.account_id, "5")
    else:
        older = rtq.producer.enqueue("undo", account.account_id, "5")
        newer = rtq.send_task("rtq.retweet", kwargs=kwargs)
    deployment.start_worker()
    first, last = rtq.wait_terminal(older, newer)
    retweeted = "5" in rtq.admin.state(account.account_id).get(account.account_id, [])
    assert retweeted == (not raw_first) and last.state == "succeeded"
    if raw_first:
        # The raw message leaves the queue first while the producer's newer job still waits:
        # it is known to be older and never calls X.
        assert first.state == "superseded" and len(rtq.x_calls(account.account_id)) == 1
    else:
        # The producer's older job may run before the raw one leaves the queue; the newer
        # intent then still wins, each call changing the state.
        assert all(c["changed"] for c in rtq.x_calls(account.account_id))


def test_a_non_default_key_prefix_keeps_every_key_under_it(
    rtq_env: dict[str, str], admin: EmulatorAdmin, tmp_path: Path
) -> None:
    """RTQ_KEY_PREFIX=app2: rtq's keys and Celery's (queue, unacked, bindings) all live under
    "app2:", so rtq can share a Redis with other apps."""
    deployment = Deployment(rtq_env, admin, str(tmp_path), RTQ_KEY_PREFIX="app2")
    try:
        rtq = deployment.rtq
        account = rtq.add_account()
        deployment.start_worker()
        job_id = rtq.producer.enqueue("retweet", account.account_id, "1")
        rtq.producer.enqueue("undo", account.account_id, "2")
        assert rtq.wait_terminal(job_id)[0].state == "succeeded"
        assert rtq.redis.exists(f"app2:job:{job_id}")
        outside = [k for k in rtq.redis.scan_iter("*") if not k.startswith("app2:")]
        assert outside == []
    finally:
        deployment.close()


@pytest.mark.usefixtures("worker")
def test_jobs_settle_after_redis_forgets_its_scripts(rtq: Rtq) -> None:
    """Redis lost its scripts (SCRIPT FLUSH, as after a restart or a failover): the worker's
    bare EVALSHAs meet NOSCRIPT, load the scripts and run again, once; nothing is lost."""
    account = rtq.add_account()
    # Given Redis without the worker's scripts, when a job succeeds (settle + observe)
    rtq.redis.script_flush()
    (done,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", account.account_id, "71"))
    assert done.state == "succeeded" and done.attempts == 1
    # and when a job is dead-lettered (settle, then the dead-letter trim)
    rtq.admin.script([{"user_id": account.account_id, "responses": [{"status": 400}]}])
    rtq.redis.script_flush()
    (dead,) = rtq.wait_terminal(rtq.producer.enqueue("retweet", account.account_id, "72"))
    # Then each settled once, its claim released, the dead letter recorded
    assert dead.state == "dead" and dead.reason == "invalid_request"
    assert [entry.job_id for entry in rtq.dead_letters.list()] == [dead.job_id]
    assert not rtq.redis.exists(Keys(rtq.settings.key_prefix).claim(account.account_id, "72"))
    assert [c["tweet_id"] for c in rtq.x_calls(account.account_id)] == ["71", "72"]


class DroppingProxy:
    """A TCP proxy to Redis that cuts the connection carrying the `drop`-th EVALSHA it sees:
    before Redis gets it, or (`deliver`) once it has passed it on, so that Redis runs it and
    its reply is lost (a network fault at a chosen point, on real sockets)."""

    def __init__(self, redis_port: int, drop: int, *, deliver: bool, away: int = 0,
                 after_reply: bool = False) -> None:
        self._redis_port = redis_port
        self._drop = drop
        self._deliver = deliver or after_reply
        self._away = away  # connections refused after the cut, as by a Redis not yet back
        self._after_reply = after_reply  # cut once the EVALSHA's reply has gone back
        self._reply_then_cut = False
        self._seen = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.dropped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refuse = self.dropped.is_set() and self._away > 0
                self._away -= refuse
            if refuse:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self._redis_port))
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True
                             ).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True
                             ).start()

    def _pipe(self, source: socket.socket, target: socket.socket, inspect: bool) -> None:
        try:
            while data := source.recv(65536):
                if inspect and b"EVALSHA" in data:
                    with self._lock:
                        self._seen += 1
                        cut = self._seen == self._drop
                    if cut and self._after_reply:
                        self._reply_then_cut = True
                    elif cut:
                        if self._deliver:
                            target.sendall(data)
                        self.dropped.set()
                        break
                target.sendall(data)
                if not inspect and self._reply_then_cut:
                    self._reply_then_cut = False
                    self.dropped.set()
                    break
        except OSError:
            pass  # the other direction closed it
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def proxy_to_redis(request: pytest.FixtureRequest, redis_client: object
                   ) -> Iterator[DroppingProxy]:
    drop, deliver, away, after_reply = request.param
    port = redis_client.connection_pool.connection_kwargs["port"]  # type: ignore[attr-defined]
    proxy = DroppingProxy(port, drop, deliver=deliver, away=away, after_reply=after_reply)
    yield proxy
    proxy.close()


@pytest.mark.parametrize(
    "proxy_to_redis",
    [(1, False, 0, False), (1, True, 0, False), (2, False, 0, False), (2, True, 0, False),
     (2, False, 3, False), (1, True, 3, True)],
    ids=["begin-lost", "begin-reply-lost", "settle-lost", "settle-reply-lost",
         "settle-lost-redis-away", "redis-away-when-settle-starts"], indirect=True)
def test_a_connection_lost_mid_script_is_retried_and_the_job_done_once(
    rtq: Rtq, proxy_to_redis: DroppingProxy
) -> None:
    """The connection carrying begin.lua (or settle.lua) breaks before Redis gets it, or after
    Redis ran it but before its reply arrives, or breaks and the next connections are refused
    for a while (also between begin and settle, so that settle starts with Redis away): the
    worker retries the call, and the job succeeds
    with one call to X and one delivery counted (without the retry the job would go back to the
    queue with its claim still held; a re-run begin.lua that did not know its own claim would
    find it busy)."""
    account = rtq.add_account()
    # A job handed to the service directly, as a pool process would (not through the queue, so
    # that no worker of the session takes it first).
    job_id = str(uuid.uuid4())
    settings = dataclasses.replace(rtq.settings,
                                   redis_url=f"redis://127.0.0.1:{proxy_to_redis.port}/0")
    service = build_service(settings, connect(settings.redis_url))
    outcome = service.handle("retweet", job_id, (), {"account_id": account.account_id,
                                                     "tweet_id": "81"})
    assert proxy_to_redis.dropped.is_set()
    assert outcome.value == "succeeded"
    status = rtq.status(job_id)
    assert (status.state, status.attempts) == ("succeeded", 1)
    assert [c["tweet_id"] for c in rtq.x_calls(account.account_id)] == ["81"]
    budget = rtq.redis.hgetall(Keys(rtq.settings.key_prefix).budget(account.account_id,
                                                                       "retweet"))
    assert int(budget["limit"]) - int(budget["remaining"]) == 1  # one call spent, not two
