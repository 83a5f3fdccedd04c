"""Replay dead letters: enqueue the original action again as a new job (the newest intent for
its pair); the entry is removed in the same atomic step, only once the new job is enqueued."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from producers.errors import InvalidJob
from producers.job_request import JobRequest
from producers.producer import Producer
from worker.dlq import NOT_REPLAYABLE, DeadLetter, DeadLetters


@dataclass(frozen=True)
class Replayed:
    entry_id: str
    job_id: str


def replayable(entry: DeadLetter) -> JobRequest:
    """The job to enqueue again, or InvalidJob saying why this entry cannot be replayed."""
    if entry.reason in NOT_REPLAYABLE:
        raise InvalidJob("id", f"entry {entry.id} is a {entry.reason} and cannot be replayed")
    if entry.action is None or entry.account_id is None or entry.tweet_id is None:
        raise InvalidJob("id", f"entry {entry.id} lacks its action or ids")
    return JobRequest.create(entry.action, entry.account_id, entry.tweet_id)


def replay(producer: Producer, dead_letters: DeadLetters,
           entries: Iterable[DeadLetter]) -> list[Replayed]:
    done: list[Replayed] = []
    for entry in entries:
        request = replayable(entry)
        job_id = producer.enqueue_many([request], replaces=[entry.id])[0]
        done.append(Replayed(entry.id, job_id))
    return done
