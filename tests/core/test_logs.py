"""Worker logs: RTQ_LOG_FORMAT=json makes every line one JSON object (Celery's own lines too),
job outcomes carry the job's fields, and text logs are scrubbed as well."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_x import EmulatorAdmin
from tests.support import Deployment
from worker.core import observability
from worker.core.observability import ScrubbingFormatter, remember_secrets, setup_logging
from worker.core.settings import Settings

JOB_FIELDS = {"job_id", "account_id", "tweet_id", "action", "outcome", "attempt", "duration_ms"}


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of `text` as a JSON object; fails on the first line that is not one."""
    documents = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError:
            pytest.fail(f"line {number} is not JSON: {line[:200]!r}")
        assert isinstance(document, dict), f"line {number} is not a JSON object: {line[:200]!r}"
        documents.append(document)
    return documents


@pytest.fixture
def json_deployment(rtq_env: dict[str, str], admin: EmulatorAdmin, tmp_path: Path
                    ) -> Iterator[Deployment]:
    deployment = Deployment(rtq_env, admin, str(tmp_path), RTQ_LOG_FORMAT="json")
    try:
        yield deployment
    finally:
        deployment.close()


def test_a_json_worker_log_is_all_json_and_job_lines_carry_the_job(
    json_deployment: Deployment
) -> None:
    """From start-up to warm shutdown, through successes, a retry, a dead letter and bytes that
    are not a message, every line a worker writes is a JSON object; every outcome line names
    its job, account, tweet, action, outcome, attempt and duration."""
    # Given a JSON-logging worker (as root here, so Celery warns before its logging is set up)
    worker = json_deployment.start_worker(2)
    rtq = json_deployment.rtq
    account = rtq.add_account()
    a = account.account_id
    rtq.admin.configure(missing_tweets=["2"])
    rtq.admin.script([{"user_id": a, "tweet_id": "3", "responses": [{"status": 503}]}])
    # When jobs succeed, retry, dead-letter, arrive malformed, and the worker stops warmly
    ok = rtq.producer.enqueue("retweet", a, "1")
    missing = rtq.producer.enqueue("retweet", a, "2")
    retried = rtq.producer.enqueue("undo", a, "3")
    malformed = rtq.send_task("rtq.retweet", kwargs={"account_id": a, "tweet_id": "4", "x": "1"})
    rtq.redis.lpush(rtq.settings.queue_key, "not a kombu message")
    rtq.wait_terminal(ok, missing, retried, malformed)
    worker.stop()
    # Then every line is a JSON object, Celery's own included
    lines = json_lines(worker.log())
    loggers = {line["logger"] for line in lines}
    assert {"celery.apps.worker", "rtq.jobs"} <= loggers
    assert any(line["message"].endswith(" ready.") for line in lines)
    assert any(line["logger"] == "py.warnings" for line in lines)  # before logging set-up
    assert any("Warm shutdown" in line["message"] for line in lines)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    # ... and each job's outcome line carries the job's fields
    outcomes = [line for line in lines if line["logger"] == "rtq.jobs"]
    assert all(set(line) >= JOB_FIELDS for line in outcomes)
    by_job: dict[str, list[dict[str, Any]]] = {}
    for line in outcomes:
        by_job.setdefault(line["job_id"], []).append(line)
    assert [(x["outcome"], x["attempt"]) for x in by_job[ok]] == [("succeeded", 1)]
    assert [(x["outcome"], x["attempt"]) for x in by_job[retried]] == [("deferred", 1),
                                                                       ("succeeded", 2)]
    (dead,) = by_job[missing]
    assert (dead["outcome"], dead["reason"], dead["action"], dead["account_id"],
            dead["tweet_id"]) == ("dead", "not_found", "retweet", a, "2")
    assert isinstance(dead["duration_ms"], int | float) and dead["duration_ms"] >= 0
    assert [x["outcome"] for x in by_job[malformed]] == ["dead"]
    assert any(line["level"] == "error" and "unreadable" in line["message"] for line in lines)


@pytest.fixture
def text_log(settings: Settings) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger with a text handler, set up as a text-format worker's would be."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(name)s: %(message)s"))
    logger = logging.getLogger("rtq.test-text-logs")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    known = observability._known_secrets
    setup_logging(settings, logger)
    yield logger, stream
    logger.handlers = []
    observability._known_secrets = known


def test_text_logs_are_scrubbed_and_keep_their_format(
    text_log: tuple[logging.Logger, io.StringIO]
) -> None:
    """A text line keeps Celery's layout but loses OAuth parameters and secret values."""
    logger, stream = text_log
    assert isinstance(logger.handlers[0].formatter, ScrubbingFormatter)
    logger.debug('sending Authorization: OAuth oauth_token="7588892-abcDEF", '
                 'oauth_signature="c2lnbmF0dXJl"')
    line = stream.getvalue()
    assert line.startswith("[DEBUG] rtq.test-text-logs: sending Authorization: ")
    assert "7588892-abcDEF" not in line and "c2lnbmF0dXJl" not in line


@pytest.mark.parametrize("redis_url", [
    "redis://:pw-0123456789@127.0.0.1:1/0",
    "sentinel://127.0.0.1:26379/0?master=m&sentinel_password=pw-0123456789",
])
def test_the_processes_own_secret_values_are_scrubbed_wherever_they_appear(
    settings: Settings, text_log: tuple[logging.Logger, io.StringIO], redis_url: str
) -> None:
    """RTQ_SECRET_KEY, the default consumer secret and the Redis (or Sentinel) password are
    removed verbatim, even where nothing names them."""
    logger, stream = text_log
    remember_secrets(Settings.from_env({"RTQ_SECRET_KEY": settings.secret_keys[0],
                                        "RTQ_CONSUMER_KEY": "ck-public",
                                        "RTQ_CONSUMER_SECRET": "cs-0123456789abcdef",
                                        "RTQ_REDIS_URL": redis_url}))
    key = settings.secret_keys[0]
    logger.info("loaded %s and %s from %s", key, "cs-0123456789abcdef", "pw-0123456789")
    line = stream.getvalue()
    for secret in (key, "cs-0123456789abcdef", "pw-0123456789"):
        assert secret not in line
    assert line.count("[Filtered]") == 3
