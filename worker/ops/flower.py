"""Flower on rtq's Celery app (`rtq flower`), and the `task-sent` events of producer jobs.

Flower shows what workers report through task events (`worker_send_task_events`): received,
started, and the task's result, which is the job's outcome (`succeeded`, `skipped`,
`superseded`, `deferred`, `dead`, `expired`); a job that waits for a retry shows `deferred`
until a later delivery of the same task id ends it. Task arguments hold ids only.

Flower's login comes from the environment, never from argv (visible to every user of the
host): FLOWER_BASIC_AUTH=user:password[,user2:password2], which Flower itself reads.

Producers write Celery messages straight to Redis (one Lua script per batch of jobs), so
Celery's publisher never runs and emits no `task-sent` event for them. `SentEvents` builds
exactly the event Celery's `send_task` would (tests/ops/test_flower.py compares the two), for the
pub/sub topic kombu's Redis transport uses for the `celeryev` exchange: `[global prefix]/<db>.
celeryev/task.sent` (kombu's default `fanout_prefix` and `fanout_patterns`, which rtq keeps).
enqueue.lua publishes a batch's events together as one message on `.../task.multi`, a JSON list
of events: the form Celery's own event dispatcher uses for buffered events, which its receiver
(so Flower) reads event by event. `publish_sent` publishes single events.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _quote
from urllib.parse import parse_qs, urlsplit

import redis

from worker.core.errors import SettingsError
from worker.core.redis_urls import is_sentinel, parse_sentinel_url
from worker.core.settings import Settings
from worker.domain.messages import TASK_NAMES, new_job_ids

BASIC_AUTH_VARIABLE = "FLOWER_BASIC_AUTH"
# Flower's OAuth login (FLOWER_AUTH_PROVIDER, with FLOWER_AUTH naming who may log in) is the
# other way to close it.
OAUTH_VARIABLES = ("FLOWER_AUTH_PROVIDER", "FLOWER_AUTH")
# Flower options that carry secrets: refused on the command line.
_SECRET_OPTIONS = re.compile(r"^--(?:basic[_-]auth|oauth2[_-]secret|cookie[_-]secret)(?:=|$)")
_HOST = socket.gethostname()


class FlowerAuthError(SettingsError):
    """Flower would start without a usable login; the message names the variable."""


def check_login(environ: Mapping[str, str]) -> str:
    """Which login Flower will ask for ("basic" or "oauth"), from the environment; a missing or
    malformed FLOWER_BASIC_AUTH raises FlowerAuthError (never echoing its value)."""
    raw = environ.get(BASIC_AUTH_VARIABLE, "").strip()
    if not raw:
        if all(environ.get(name, "").strip() for name in OAUTH_VARIABLES):
            return "oauth"
        raise FlowerAuthError(
            f"{BASIC_AUTH_VARIABLE}: not set; Flower shows every job and can control workers, "
            "so it needs a login: set user:password in the environment (Flower reads it "
            "there), or Flower's OAuth (FLOWER_AUTH_PROVIDER and FLOWER_AUTH), or pass "
            "--insecure-no-auth to run it open on purpose"
        )
    logins = raw.split(",")
    for position, login in enumerate(logins, start=1):
        user, colon, password = login.partition(":")
        if not colon or not user.strip() or not password:
            raise FlowerAuthError(
                f"{BASIC_AUTH_VARIABLE}: login {position} of {len(logins)} is not "
                "user:password (both non-empty)"
            )
    return "basic"


def flower_argv(python: str, host: str, port: int, extra: Iterable[str]) -> list[str]:
    """`celery -A worker flower` with rtq's address and port, plus the operator's options."""
    extra = list(extra)
    for option in extra:
        if _SECRET_OPTIONS.match(option):
            name = option.split("=", 1)[0]
            raise FlowerAuthError(
                f"{name}: credentials on the command line are visible to every user of the "
                f"host; set {BASIC_AUTH_VARIABLE} (or Flower's FLOWER_* variables) instead"
            )
    return [python, "-m", "celery", "-A", "worker", "flower", f"--address={host}",
            f"--port={port}", *extra]


# -- task-sent events -----------------------------------------------------------------------


@dataclass(frozen=True)
class SentJob:
    """A job a producer has enqueued (Redis accepted it)."""

    job_id: str
    action: str
    account_id: str
    tweet_id: str
    eta: str | None = None  # ISO-8601, for a job scheduled for later


def events_topic(settings: Settings, routing_key: str = "task.sent") -> str:
    """The pub/sub channel kombu publishes `task-sent` events on, for these settings (a list
    of events goes on `task.multi`)."""
    return f"{settings.kombu_prefix}/{redis_db(settings.redis_url)}.celeryev/{routing_key}"


def redis_db(url: str) -> int:
    """The database number of RTQ_REDIS_URL, as kombu reads it (the path; 0 when absent)."""
    if is_sentinel(url):
        return parse_sentinel_url(url).db
    parts = urlsplit(url)
    if parts.scheme == "unix":
        value = parse_qs(parts.query).get("db", ["0"])[0]
        return int(value) if value.isdigit() else 0
    path = parts.path.strip("/")
    return int(path) if path.isdigit() else 0


def sent_event(job: SentJob, queue: str, *, now: float | None = None,
               hostname: str | None = None) -> str:
    """The kombu message Celery publishes for `send_task(...)`'s `task-sent` event."""
    return SentEvents(queue, time.time() if now is None else now, hostname).event(job)


class SentEvents:
    """Builds `task-sent` events from a template: the parts every event of one publisher and
    moment shares are serialised once (bulk enqueue sends 100,000 of them)."""

    def __init__(self, queue: str, now: float, hostname: str | None = None) -> None:
        origin = hostname or f"gen{os.getpid()}@{_HOST}"
        body = {
            "hostname": origin,
            "utcoffset": _utcoffset(),
            "pid": os.getpid(),
            "clock": 0,  # producers keep no Lamport clock; workers' events order themselves
            "uuid": "\0id",
            "root_id": "\0id",
            "parent_id": None,
            "name": "\0name",
            "args": "()",
            "kwargs": "\0kwargs",
            "retries": 0,
            "eta": "\0eta",
            "expires": None,
            "queue": queue,
            "exchange": "",
            "routing_key": queue,
            "timestamp": now,
            "type": "task-sent",
        }
        message = {
            "body": "\0body",
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {"hostname": origin},
            "properties": {
                "delivery_mode": 1,
                "delivery_info": {"exchange": "celeryev", "routing_key": "task.sent"},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": "\0tag",
            },
        }
        self._body = _fill_template(json.dumps(body), ("id", "name", "kwargs", "eta"))
        self._message = _fill_template(json.dumps(message), ("body", "tag"))
        # Celery's buffered form (EventDispatcher.flush): a list of events in one message on
        # routing key `task.multi`, the body as JSON text. The script that enqueues a batch
        # publishes it with the events of the jobs it accepted, so the body goes in last.
        properties = message["properties"]
        assert isinstance(properties, dict)
        properties.pop("body_encoding")
        properties["delivery_info"] = {"exchange": "celeryev", "routing_key": "task.multi"}
        message["body"] = "\0body"
        self.multi_head, self.multi_tail = _fill_template(
            json.dumps(message), ("body", "tag")).replace("%%", "%").split("%(body)s")

    def body(self, job: SentJob) -> str:
        """The event itself (JSON text)."""
        kwargs = {"account_id": job.account_id, "tweet_id": job.tweet_id}
        return self._body % {
            "id": _quote(job.job_id), "name": _quote(TASK_NAMES[job.action]),
            "kwargs": _quote(repr(kwargs)), "eta": "null" if job.eta is None else _quote(job.eta),
        }

    def event(self, job: SentJob, delivery_tag: str | None = None) -> str:
        """The event as Celery publishes it alone (routing key `task.sent`)."""
        return self._message % {
            "body": '"' + base64.b64encode(self.body(job).encode()).decode("ascii") + '"',
            "tag": _quote(delivery_tag or str(uuid.uuid4())),
        }

    def multi(self, delivery_tag: str) -> tuple[str, str]:
        """The `task.multi` message around its body: (text before, text after); the body is
        `[event, ...]` as a JSON string."""
        return (self.multi_head, self.multi_tail.replace("%(tag)s", _quote(delivery_tag)))


def _fill_template(text: str, slots: tuple[str, ...]) -> str:
    """`text` (JSON holding "\\u0000slot" strings) as a %-template of those slots."""
    text = text.replace("%", "%%")
    for slot in slots:
        text = text.replace(f'"\\u0000{slot}"', f"%({slot})s")
    return text


def publish_sent(client: redis.Redis, settings: Settings, jobs: Iterable[SentJob]) -> int:
    """Emit one `task-sent` event per accepted job, in one round trip; returns how many were
    published. Events are best effort (as Celery's are: nobody may be listening), so a Redis
    error here is swallowed (0): the jobs themselves are already safely enqueued."""
    jobs = list(jobs)
    if not jobs:
        return 0
    topic = events_topic(settings)
    events = SentEvents(settings.queue, time.time())
    tags = new_job_ids(len(jobs))
    pipe = client.pipeline(transaction=False)
    for job, tag in zip(jobs, tags, strict=True):
        pipe.publish(topic, events.event(job, tag))
    try:
        pipe.execute()
    except redis.RedisError:
        return 0
    return len(jobs)


def _utcoffset() -> int:
    """Hours west of UTC, as celery.utils.time.utcoffset reports it."""
    if time.localtime().tm_isdst:
        return time.altzone // 3600
    return time.timezone // 3600
