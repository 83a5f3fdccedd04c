"""Sentry: with SENTRY_DSN set, a real worker sends one event per dead-lettered job (none per
retry), tagged for triage and holding no credential. sentry-sdk's real transport posts to a
local receiver that stands in for Sentry's ingest."""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from fake_x import EmulatorAdmin
from tests.support import Deployment, wait_for


class EnvelopeReceiver:
    """Accepts POST /api/<project>/envelope/ on 127.0.0.1 and keeps each (decompressed) body."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.paths: list[str] = []
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                elif encoding == "br":
                    import brotli  # type: ignore[import-not-found]

                    body = brotli.decompress(body)
                with lock:
                    receiver.paths.append(self.path)
                    receiver.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_address[1]}/1"

    def events(self) -> list[dict[str, Any]]:
        """Every event item of every envelope received so far."""
        found = []
        for body in list(self.bodies):
            lines = body.split(b"\n")
            position = 1  # line 0 is the envelope header
            while position + 1 < len(lines):
                header = json.loads(lines[position])
                payload = lines[position + 1]
                if header.get("type") == "event":
                    found.append(json.loads(payload))
                position += 2
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[EnvelopeReceiver]:
    server = EnvelopeReceiver()
    yield server
    server.close()


@pytest.fixture
def sentry_deployment(rtq_env: dict[str, str], admin: EmulatorAdmin, tmp_path: Path,
                      receiver: EnvelopeReceiver) -> Iterator[Deployment]:
    """A private deployment whose one worker (one pool process) reports to the receiver."""
    deployment = Deployment(rtq_env, admin, str(tmp_path), SENTRY_DSN=receiver.dsn)
    try:
        deployment.start_worker(1)
        yield deployment
    finally:
        deployment.close()


def dead_letter_job(event: dict[str, Any]) -> str | None:
    job_id: str | None = event.get("contexts", {}).get("dead_letter", {}).get("job_id")
    return job_id


def test_one_tagged_event_per_dead_letter_and_none_for_retries(
    sentry_deployment: Deployment, receiver: EnvelopeReceiver
) -> None:
    """Dead letters (404, retries exhausted, 401, malformed) are one event each, tagged with
    account, action, reason and X's status; a job that retried twice then succeeded and a job
    that succeeded at once send nothing; no envelope holds a credential."""
    rtq = sentry_deployment.rtq
    account, revoked = rtq.add_account(), rtq.add_account()
    a, r = account.account_id, revoked.account_id
    rtq.admin.configure(missing_tweets=["2", "9"])
    rtq.admin.script([
        {"user_id": a, "tweet_id": "3", "responses": [{"status": 503}, {"status": 503}]},
        {"user_id": a, "tweet_id": "4", "responses": [{"status": 503}] * 3},
    ])
    rtq.admin.revoke(r)
    # Given jobs that succeed, retry twice then succeed, and dead-letter four ways
    succeeded = rtq.producer.enqueue("retweet", a, "1")
    retried = rtq.producer.enqueue("retweet", a, "3")
    not_found = rtq.producer.enqueue("retweet", a, "2")
    exhausted = rtq.producer.enqueue("retweet", a, "4")
    unauthorized = rtq.producer.enqueue("retweet", r, "5")
    malformed = rtq.send_task("rtq.retweet", kwargs={"account_id": a, "tweet_id": "6",
                                                     "note": "extra"})
    statuses = rtq.wait_terminal(succeeded, retried, not_found, exhausted, unauthorized, malformed)
    assert [s.state for s in statuses] == ["succeeded", "succeeded", "dead", "dead", "dead", "dead"]
    assert statuses[1].attempts == 3
    # When a last dead letter's event has arrived (the one pool process sends its events in
    # order, so every earlier one has arrived too)
    marker = rtq.producer.enqueue("retweet", a, "9")
    rtq.wait_terminal(marker)
    wait_for(lambda: any(dead_letter_job(e) == marker for e in receiver.events()), 20,
             "the last dead letter's event")
    # Then there is exactly one event per dead letter, and no other
    events = receiver.events()
    by_job: dict[str | None, list[dict[str, Any]]] = {}
    for event in events:
        by_job.setdefault(dead_letter_job(event), []).append(event)
    assert sorted(by_job, key=str) == sorted(
        [not_found, exhausted, unauthorized, malformed, marker], key=str)
    assert all(len(found) == 1 for found in by_job.values())
    assert all("/api/1/envelope/" in path for path in receiver.paths)
    # ... each tagged for triage (the Celery integration adds the task id: the job id)
    tags = {job: found[0]["tags"] for job, found in by_job.items()}
    assert tags[not_found] == {"account_id": a, "action": "retweet", "reason": "not_found",
                               "x_status": "404", "celery_task_id": not_found}
    assert tags[exhausted] == {"account_id": a, "action": "retweet",
                               "reason": "retries_exhausted", "x_status": "503",
                               "celery_task_id": exhausted}
    assert tags[unauthorized] == {"account_id": r, "action": "retweet", "reason": "unauthorized",
                                  "x_status": "401", "celery_task_id": unauthorized}
    assert tags[malformed] == {"account_id": a, "action": "retweet",
                               "reason": "malformed_message", "x_status": "none",
                               "celery_task_id": malformed}
    assert by_job[not_found][0]["level"] == "error"
    # ... and no envelope holds a credential or the Fernet key
    text = b"\n".join(receiver.bodies).decode(errors="replace")
    secrets = [rtq.settings.secret_keys[0]] + [
        creds[name] for creds in (account.credentials, revoked.credentials)
        for name in ("access_token", "access_token_secret", "consumer_secret")]
    for secret in secrets:
        assert secret not in text
    # ... nor the Lua scripts Redis breadcrumbs would otherwise carry
    assert "redis.call" not in text


def test_an_internal_error_and_unreadable_messages_are_one_event_each(
    sentry_deployment: Deployment, receiver: EnvelopeReceiver
) -> None:
    """A bug meeting a job is one event carrying the exception (not also one for the logged
    traceback); each message that is not a message at all is one event (not also one for the
    error line the consumer logs)."""
    rtq = sentry_deployment.rtq
    account = rtq.add_account()
    a = account.account_id
    rtq.admin.configure(missing_tweets=["9"])
    # Given a job whose stored record is corrupt, so the service fails on it (a stand-in bug)
    broken = "job-with-corrupt-history"
    rtq.redis.hset(f"rtq:job:{broken}", mapping={
        "action": "retweet", "account_id": a, "tweet_id": "1", "state": "queued",
        "attempts": "0", "charged": "0", "history": "{not json"})
    rtq.send_task("rtq.retweet", kwargs={"account_id": a, "tweet_id": "1"}, task_id=broken)
    wait_for(lambda: rtq.redis.hget(f"rtq:job:{broken}", "reason") == "internal_error", 20,
             "the broken job's dead letter")
    marker = rtq.producer.enqueue("retweet", a, "9")
    rtq.wait_terminal(marker)
    wait_for(lambda: any(dead_letter_job(e) == marker for e in receiver.events()), 20,
             "the pool process's last event")
    # And two queue entries that are not kombu messages (handled in the worker's main process)
    rtq.redis.lpush(rtq.settings.queue_key, "not a message")
    rtq.redis.lpush(rtq.settings.queue_key, "not a message either")

    def unreadable_events() -> list[dict[str, Any]]:
        return [e for e in receiver.events() if e.get("tags", {}).get("reason") ==
                "malformed_message"]

    wait_for(lambda: len(unreadable_events()) == 2, 20, "both unreadable messages' events")
    # Then: one event for the bug, with its exception, one for the marker, one per unreadable
    events = receiver.events()
    assert len(events) == 4, [e.get("message") or e.get("logentry") for e in events]
    (bug,) = [e for e in events if dead_letter_job(e) == broken]
    assert bug["tags"]["reason"] == "internal_error"
    assert bug["exception"]["values"][-1]["type"] == "JSONDecodeError"
    assert all(e["tags"]["account_id"] == "unknown" and e["tags"]["x_status"] == "none"
               for e in unreadable_events())


def test_a_held_app_and_the_breaker_are_one_event_per_transition(
    rtq_env: dict[str, str], admin: EmulatorAdmin, tmp_path: Path, receiver: EnvelopeReceiver
) -> None:
    """An app out of credits with 20 jobs is one Sentry event (not 20, and no dead letter);
    an outage is one event when the breaker opens and one when it closes."""
    from tests.domain.test_holds import app_accounts, enqueue_spread
    from worker.core.keys import Keys
    from worker.domain.accounts import app_id
    from worker.domain.holds import Holds

    deployment = Deployment(rtq_env, admin, str(tmp_path), SENTRY_DSN=receiver.dsn,
                            RTQ_BREAKER_MIN_CALLS="3", RTQ_BREAKER_COOLDOWN="1",
                            RTQ_BREAKER_PROBES="1")
    try:
        deployment.start_worker(2)
        rtq = deployment.rtq
        holds = Holds(rtq.redis, Keys(), rtq.settings.queue_key)
        # Given an app whose credits ran out
        consumer_key, accounts = app_accounts(rtq, 4)
        # (X names the billing account in its detail, as real X does: a number, not the key)
        admin.add_condition("credits_depleted", consumer_key=consumer_key,
                            account_id="1723874892375")
        enqueue_spread(rtq, accounts, 20)
        wait_for(lambda: rtq.redis.llen(Keys().app_held(app_id(consumer_key))) == 20, 30,
                 "the app's jobs held")
        # And an outage that opens the breaker, then ends
        admin.clear_conditions()
        others = [rtq.add_account() for _ in range(3)]
        admin.add_condition("outage", status=503)
        outage_jobs = enqueue_spread(rtq, others, 12, first_tweet=100)
        wait_for(lambda: holds.breaker().state == "open", 20, "the breaker to open")
        admin.clear_conditions()
        rtq.wait_terminal(*outage_jobs, timeout=60)

        def transitions() -> list[dict[str, Any]]:
            return [e for e in receiver.events() if "hold" in e.get("tags", {})
                    or "breaker" in e.get("tags", {})]

        wait_for(lambda: len(transitions()) >= 3, 20, "the three transitions' events")
        events = receiver.events()
        held = [e for e in events if e.get("tags", {}).get("hold") == "app"]
        breaker = [e["tags"]["breaker"] for e in events if "breaker" in e.get("tags", {})]
        assert len(held) == 1 and held[0]["tags"]["reason"] == "credits_depleted"
        assert held[0]["tags"]["app"] == app_id(consumer_key)
        assert breaker == ["opened", "closed"]
        assert not [e for e in events if dead_letter_job(e)], "no job was dead-lettered"
        assert consumer_key not in b"\n".join(receiver.bodies).decode(errors="replace")
    finally:
        deployment.close()
