"""`rtq flower`: Flower on rtq's app, behind a login from the environment, showing every job with
its outcome as the task's result. A real Flower process reads the events of a real worker."""

from __future__ import annotations

import ast
import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from producers import JobRequest, Producer
from tests.support import Rtq, wait_for
from worker.core.settings import Settings
from worker.embedded.servers import WorkerProcess, free_port
from worker.ops.flower import FlowerAuthError, SentJob, check_login, events_topic, publish_sent

USER = "ops"
PASSWORD = secrets.token_urlsafe(16)


def http(url: str, login: tuple[str, str] | None = None) -> tuple[int, str]:
    """GET `url` (with HTTP basic auth when `login` is given): status and body."""
    request = urllib.request.Request(url)
    if login is not None:
        token = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except OSError:
        return 0, ""


def start_flower(env: dict[str, str], log_path: Path, *args: str) -> tuple[subprocess.Popen[bytes],
                                                                          str]:
    """`rtq flower --port N ...` as a process, once it answers HTTP."""
    port = free_port()
    rtq_bin = os.path.join(os.path.dirname(sys.executable), "rtq")
    with open(log_path, "wb") as log:
        process = subprocess.Popen([rtq_bin, "flower", "--port", str(port), *args], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: process.poll() is not None or http(url + "/healthcheck")[0] == 200, 60,
             "Flower to answer", interval=0.1)
    assert process.poll() is None, log_path.read_text()
    return process, url


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def hostname_of(worker: WorkerProcess) -> str:
    return f"{worker.name}@{socket.gethostname()}"


@pytest.fixture(scope="module")
def flower(rtq_env: dict[str, str], worker: WorkerProcess,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Flower on the test Redis with a login, listening to the session worker's events."""
    env = {**rtq_env, "FLOWER_BASIC_AUTH": f"{USER}:{PASSWORD}"}
    process, url = start_flower(env, tmp_path_factory.mktemp("flower") / "flower.log")
    try:
        # Flower hears events once its receiver is connected: the worker's heartbeat shows it.
        online = f'flower_worker_online{{worker="{hostname_of(worker)}"}} 1.0'
        wait_for(lambda: online in http(url + "/metrics")[1], 60, "Flower to hear the worker",
                 interval=0.2)
        yield url
    finally:
        stop(process)


def task_info(url: str, job_id: str) -> dict[str, Any] | None:
    status, body = http(f"{url}/api/task/info/{job_id}", (USER, PASSWORD))
    return json.loads(body) if status == 200 else None


def wait_result(url: str, job_id: str, result: str) -> dict[str, Any]:
    """Flower's view of the job once its result is `result`."""
    info: dict[str, Any] = wait_for(
        lambda: (i := task_info(url, job_id)) is not None and i.get("result") == repr(result)
        and i, 20, f"Flower to show job {job_id} with result {result!r}")
    return info


def test_flower_refuses_to_start_without_a_login(rtq: Rtq) -> None:
    """No FLOWER_BASIC_AUTH and no --insecure-no-auth: exit 1 naming the variable."""
    env = {k: v for k, v in rtq.env.items() if not k.startswith("FLOWER_")}
    result = rtq.cli("flower", "--port", str(free_port()), env=env)
    assert result.returncode == 1
    assert "FLOWER_BASIC_AUTH" in result.stderr and "--insecure-no-auth" in result.stderr


@pytest.mark.parametrize("login", ["operator-7f3k", ":pw-9x2q4", "operator-4h8z:",
                                   "ops:fine,operator-2m5n"])
def test_flower_refuses_a_malformed_login_without_echoing_it(rtq: Rtq, login: str) -> None:
    """A FLOWER_BASIC_AUTH that is not user:password stops the command; its value is not shown."""
    result = rtq.cli("flower", env={**rtq.env, "FLOWER_BASIC_AUTH": login})
    assert result.returncode == 1
    assert "FLOWER_BASIC_AUTH" in result.stderr
    assert login not in result.stderr + result.stdout


@pytest.mark.parametrize("option", ["--basic_auth", "--basic-auth", "--oauth2_secret"])
def test_flower_refuses_credentials_on_the_command_line(rtq: Rtq, option: str) -> None:
    """Credentials in argv (visible to every user of the host) are refused and not echoed."""
    secret = "hunter2-" + secrets.token_hex(8)
    result = rtq.cli("flower", f"{option}=ops:{secret}",
                     env={**rtq.env, "FLOWER_BASIC_AUTH": f"{USER}:{PASSWORD}"})
    assert result.returncode == 1
    assert option in result.stderr
    assert secret not in result.stderr + result.stdout


def test_flower_may_use_its_oauth_login_instead_of_basic_auth() -> None:
    """FLOWER_AUTH_PROVIDER with FLOWER_AUTH is a login too; either alone is not."""
    oauth = {"FLOWER_AUTH_PROVIDER": "flower.views.auth.GithubLoginHandler",
             "FLOWER_AUTH": ".*@example.com"}
    assert check_login(oauth) == "oauth"
    assert check_login({"FLOWER_BASIC_AUTH": "ops:pw"}) == "basic"
    for partial in ({"FLOWER_AUTH": ".*@example.com"},
                    {"FLOWER_AUTH_PROVIDER": "flower.views.auth.GithubLoginHandler"}):
        with pytest.raises(FlowerAuthError, match="FLOWER_BASIC_AUTH"):
            check_login(partial)


def test_flower_runs_open_only_when_told_to(rtq_env: dict[str, str], tmp_path: Path) -> None:
    """--insecure-no-auth starts Flower without a login, saying so; its API stays closed unless
    FLOWER_UNAUTHENTICATED_API is also set (Flower's own rule)."""
    env = {k: v for k, v in rtq_env.items() if not k.startswith("FLOWER_")}
    process, url = start_flower(env, tmp_path / "flower.log", "--insecure-no-auth")
    try:
        assert http(url + "/workers")[0] == 200
        assert http(url + "/api/tasks")[0] == 401
    finally:
        stop(process)
    assert "WITHOUT a login" in (tmp_path / "flower.log").read_text()


def test_flower_api_answers_only_with_the_login(flower: str, worker: WorkerProcess) -> None:
    """/api/* is 401 without credentials or with a wrong password, 200 with the login;
    /metrics and /healthcheck need none (Flower's behaviour)."""
    assert http(flower + "/api/tasks")[0] == 401
    assert http(flower + "/api/workers")[0] == 401
    assert http(flower + "/api/tasks", (USER, PASSWORD + "x"))[0] == 401
    assert http(flower + "/api/tasks", (USER, PASSWORD))[0] == 200
    status, body = http(flower + "/api/workers?refresh=1", (USER, PASSWORD))
    assert status == 200 and hostname_of(worker) in json.loads(body)
    assert http(flower + "/metrics")[0] == 200
    assert http(flower + "/healthcheck")[0] == 200


def test_flower_shows_every_outcome_as_the_task_result(flower: str, rtq: Rtq) -> None:
    """succeeded, skipped, superseded, deferred (held), dead, and a job that retried twice before
    succeeding: Flower's task result names the outcome; its arguments are ids only."""
    account, revoked = rtq.add_account(), rtq.add_account()
    a = account.account_id
    rtq.admin.configure(missing_tweets=["2"])
    rtq.admin.script([{"user_id": a, "tweet_id": "3",
                       "responses": [{"status": 503}, {"status": 503}]}])
    # Given jobs that succeed, dead-letter (404), and retry twice then succeed
    succeeded = rtq.producer.enqueue("retweet", a, "1")
    dead = rtq.producer.enqueue("retweet", a, "2")
    retried = rtq.producer.enqueue("retweet", a, "3")
    rtq.wait_terminal(succeeded, dead, retried)
    # ... one that X's known state makes needless
    skipped = rtq.producer.enqueue("retweet", a, "1")
    # ... an older intent superseded by a newer one (released to the worker together)
    held_queue = Producer(rtq.redis, Settings.from_env({**rtq.env, "RTQ_QUEUE": "rtq-held"}))
    superseded = held_queue.enqueue("retweet", a, "5")
    newer = held_queue.enqueue("undo", a, "5")
    pipe = rtq.redis.pipeline(transaction=True)
    pipe.rpoplpush("rtq-held", rtq.settings.queue_key)
    pipe.rpoplpush("rtq-held", rtq.settings.queue_key)
    pipe.execute()
    # ... and, for an account whose token X revoked, a dead letter then a job held for new
    # credentials
    rtq.admin.revoke(revoked.account_id)
    unauthorized = rtq.producer.enqueue("retweet", revoked.account_id, "7")
    rtq.wait_terminal(skipped, superseded, newer, unauthorized)
    held = rtq.producer.enqueue("retweet", revoked.account_id, "8")
    rtq.wait_state(held, "deferred")
    # Then Flower shows each job's outcome as its result
    expected = {succeeded: "succeeded", dead: "dead", retried: "succeeded", skipped: "skipped",
                superseded: "superseded", newer: "succeeded", unauthorized: "dead",
                held: "deferred"}
    infos = {job_id: wait_result(flower, job_id, outcome) for job_id, outcome in expected.items()}
    assert rtq.status(retried).attempts == 3
    for info in infos.values():
        assert info["name"] in ("rtq.retweet", "rtq.undo")
        assert info["args"] == "()"
        assert set(ast.literal_eval(info["kwargs"])) == {"account_id", "tweet_id"}
    # And nothing Flower serves holds a credential
    seen = http(flower + "/api/tasks", (USER, PASSWORD))[1] + http(
        flower + "/api/workers", (USER, PASSWORD))[1]
    for secret in [*(account.credentials[k] for k in ("access_token", "access_token_secret",
                                                      "consumer_secret")),
                   rtq.settings.secret_keys[0]]:
        assert secret not in seen


def test_sent_events_match_what_celery_publishes(rtq: Rtq) -> None:
    """The task-sent event rtq emits for producer jobs is the one Celery's send_task emits:
    same channel, same envelope, same fields."""
    from celery import Celery

    # Given Celery's own task-sent event for a message to an idle queue
    queue = "rtq-sent-probe"
    subscriber = rtq.redis.pubsub()
    subscriber.psubscribe("*celeryev*")
    wait_for(lambda: subscriber.get_message(timeout=0.1), 5, "the subscription")
    app = Celery("probe", broker=rtq.settings.redis_url)
    app.conf.update(task_send_sent_event=True, task_serializer="json")
    try:
        app.send_task("rtq.undo", kwargs={"account_id": "12", "tweet_id": "34"}, queue=queue,
                      task_id="job-from-celery")
    finally:
        app.close()
    celery_event = wait_for(lambda: subscriber.get_message(timeout=0.1), 5, "Celery's event")
    # When rtq emits one for the same job
    publish_sent(rtq.redis, Settings.from_env({**rtq.env, "RTQ_QUEUE": queue}),
                 [SentJob("job-from-celery", "undo", "12", "34")])
    ours = wait_for(lambda: subscriber.get_message(timeout=0.1), 5, "rtq's event")
    subscriber.close()
    rtq.redis.delete(queue)
    # Then channel, envelope and body agree, except what names the sending process and moment
    assert ours["channel"] == celery_event["channel"] == events_topic(rtq.settings)
    theirs_message, our_message = json.loads(celery_event["data"]), json.loads(ours["data"])
    theirs_body = json.loads(base64.b64decode(theirs_message.pop("body")))
    our_body = json.loads(base64.b64decode(our_message.pop("body")))
    for message in (theirs_message, our_message):
        message["properties"].pop("delivery_tag")
        message.pop("headers")
    assert our_message == theirs_message
    volatile = {"hostname", "pid", "clock", "timestamp", "utcoffset"}
    assert set(our_body) == set(theirs_body)
    assert {k: v for k, v in our_body.items() if k not in volatile} == {
        k: v for k, v in theirs_body.items() if k not in volatile}


def test_flower_shows_when_a_producer_job_was_sent(flower: str, rtq: Rtq) -> None:
    """With the producer's task-sent event, Flower knows when the job was sent as well as its
    outcome."""
    account = rtq.add_account()
    before = time.time()
    job_id = rtq.producer.enqueue("retweet", account.account_id, "40")
    rtq.wait_terminal(job_id)
    info = wait_result(flower, job_id, "succeeded")
    assert info["sent"] is not None and before <= info["sent"] <= info["succeeded"]
    assert info["client"]


def test_bulk_enqueue_publishes_celerys_grouped_task_sent_events(rtq: Rtq) -> None:
    """A batch's task-sent events go out as one message on `task.multi`, the form Celery's
    event dispatcher uses for buffered events; Celery's own receiver reads every event."""
    from celery import Celery
    from celery.events.receiver import EventReceiver
    from kombu.transport.virtual import Message

    account = rtq.add_account()
    subscriber = rtq.redis.pubsub()
    subscriber.psubscribe("*celeryev*")
    wait_for(lambda: subscriber.get_message(timeout=0.1), 5, "the subscription")
    ids = rtq.producer.enqueue_many([JobRequest.create("retweet", account.account_id, str(t))
                                     for t in (41, 42, 43)])
    published = wait_for(lambda: subscriber.get_message(timeout=0.1), 5, "the events")
    subscriber.close()
    assert published["channel"] == events_topic(rtq.settings, "task.multi")
    received: list[dict[str, Any]] = []
    app = Celery("probe", broker="memory://", set_as_current=False)
    with app.connection_for_read() as connection:
        receiver = EventReceiver(connection, handlers={"*": received.append}, app=app)
        message = Message(json.loads(published["data"]), channel=connection.default_channel)
        receiver._receive(message.decode(), message)
    assert [(e["type"], e["uuid"], e["name"]) for e in received] == [
        ("task-sent", job_id, "rtq.retweet") for job_id in ids]
    assert ast.literal_eval(received[0]["kwargs"]) == {"account_id": account.account_id,
                                                       "tweet_id": "41"}


def test_a_sent_event_for_an_unreachable_redis_is_dropped_quietly(rtq: Rtq) -> None:
    """Events are best effort: publishing to a Redis that is gone raises nothing."""
    gone = redis.Redis(port=free_port(), socket_connect_timeout=0.2)
    assert publish_sent(gone, rtq.settings, [SentJob("j1", "retweet", "1", "2")]) == 0
