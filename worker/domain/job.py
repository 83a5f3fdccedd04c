"""A job as the worker sees it: the parsed message, its outcome, and its progress so far.

`parse_job` is where a task message is validated: a message that fails it is dead-lettered as
`malformed_message`, naming the field and the problem.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from worker.core.errors import MalformedMessage
from worker.core.ids import InvalidId, parse_account_id, parse_tweet_id
from worker.domain.messages import ACTIONS

log = logging.getLogger("rtq.jobs")

_FIELDS = ("account_id", "tweet_id")
_MAX_ECHO = 40
JOB_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"
    SUPERSEDED = "superseded"
    DEFERRED = "deferred"
    DEAD = "dead"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Job:
    job_id: str
    action: str
    account_id: str
    tweet_id: str

    @property
    def desired(self) -> bool:
        return self.action == "retweet"

    @property
    def group(self) -> str:
        """The (account, endpoint) a rate budget belongs to."""
        return f"{self.account_id}:{self.action}"

    def as_kwargs(self) -> dict[str, str]:
        return {"account_id": self.account_id, "tweet_id": self.tweet_id}


@dataclass
class Progress:
    """What the status record says of the job so far, and this delivery's claim token."""

    attempts: int
    charged: int
    history: list[dict[str, Any]] = field(default_factory=list)
    token: str = ""


def parse_job(action: str, job_id: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Job:
    """Validate a task message; raises MalformedMessage naming the field and the problem."""
    if action not in ACTIONS:
        raise MalformedMessage("task", f"unknown action {action!r}")
    if not JOB_ID_RE.fullmatch(job_id or ""):
        raise MalformedMessage("id", "the task id must be 1-128 letters, digits or -_.:")
    if args:
        raise MalformedMessage("args", f"positional arguments are not accepted ({len(args)} given)")
    extra = sorted(str(k) for k in kwargs if k not in _FIELDS)
    if extra:
        raise MalformedMessage(extra[0], "unexpected keyword argument (only account_id, tweet_id)")
    values = {}
    for name in _FIELDS:
        if name not in kwargs:
            raise MalformedMessage(name, "missing")
        value = kwargs[name]
        if not isinstance(value, str):
            raise MalformedMessage(name, f"expected a JSON string, got {type(value).__name__}")
        try:
            values[name] = parse_account_id(value) if name == "account_id" else _tweet(value)
        except InvalidId as exc:
            raise MalformedMessage(name, str(exc)) from None
    return Job(job_id, action, values["account_id"], values["tweet_id"])


def _tweet(value: str) -> str:
    # Messages carry ids only; URLs are for producers to resolve.
    if "://" in value:
        raise InvalidId("expected 1-19 ASCII digits (messages carry ids, not URLs)")
    return parse_tweet_id(value)


def echo(value: Any) -> str | None:
    """A received value as far as it is safe to keep: short strings and ints only."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    if not text.isprintable():
        # Control characters would let a message forge log lines: replace them.
        text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= _MAX_ECHO else text[:_MAX_ECHO] + "..."


def echo_field(kwargs: object, name: str) -> str | None:
    return echo(kwargs.get(name)) if isinstance(kwargs, Mapping) else None


def log_outcome(job_id: str, action: str, kwargs: Mapping[str, Any], outcome: Outcome,
                attempts: int, started: float, *, reason: str | None) -> None:
    """The one line per delivery, with the job's fields (as far as they are safe to echo)."""
    log.info(
        "job %s %s %s", job_id, action, outcome.value,
        extra={
            "job_id": job_id, "action": action,
            "account_id": echo_field(kwargs, "account_id"),
            "tweet_id": echo_field(kwargs, "tweet_id"),
            "outcome": outcome.value, "attempt": attempts, "reason": reason,
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
        },
    )
