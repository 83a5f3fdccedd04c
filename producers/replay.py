"""Replay dead letters: enqueue the original action again as a new job (the newest intent for
its pair); the entry is removed in the same atomic step, only once the new job is enqueued."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from producers.errors import InvalidJob
from producers.job_request import JobRequest
from producers.producer import Producer
from worker.domain.dlq import NOT_REPLAYABLE, PERMANENT, DeadLetter, DeadLetters, Filter


@dataclass(frozen=True)
class Replayed:
    entry_id: str
    job_id: str


@dataclass(frozen=True)
class Refused:
    """An entry a replay left where it was, and why (the InvalidJob's words)."""

    entry_id: str
    reason: str


def replayable(entry: DeadLetter, *, force: bool = False) -> JobRequest:
    """The job to enqueue again, or InvalidJob saying why this entry is not replayed."""
    if entry.reason in NOT_REPLAYABLE:
        raise InvalidJob("id", f"entry {entry.id} is a {entry.reason} and cannot be replayed")
    if entry.action is None or entry.account_id is None or entry.tweet_id is None:
        raise InvalidJob("id", f"entry {entry.id} lacks its action or ids")
    if entry.reason in PERMANENT and not force:
        raise InvalidJob("id", f"entry {entry.id} failed for a permanent reason "
                         f"({entry.reason}): fix the cause, then replay with --force")
    return JobRequest.create(entry.action, entry.account_id, entry.tweet_id)


def bulk_selection(dead_letters: DeadLetters, where: Filter,
                   limit: int | None = None) -> list[DeadLetter]:
    """The entries a replay by filters takes (`rtq dlq replay --all`, the console's "replay
    these"): those selected, less the ones no replay can fix (malformed messages)."""
    return [entry for entry in dead_letters.list(where=where, limit=limit)
            if entry.reason not in NOT_REPLAYABLE]


def replay_one(producer: Producer, entry: DeadLetter, *, force: bool = False) -> Replayed:
    """Enqueue `entry` again; with force, even for an account rtq has no credentials for."""
    request = replayable(entry, force=force)
    try:
        job_id = producer.enqueue_many([request], replaces=[entry.id])[0]
    except InvalidJob as exc:
        if not force or exc.field != "account_id":
            if exc.field == "account_id":
                raise InvalidJob("account_id", f"{exc.reason}; replay with --force to enqueue "
                                 "it anyway") from None
            raise
        job_id = producer.enqueue_many([request], replaces=[entry.id],
                                       require_account=False)[0]
    return Replayed(entry.id, job_id)


def replay_each(producer: Producer, entries: Iterable[DeadLetter], *, force: bool = False
                ) -> Iterator[Replayed | Refused]:
    """Replay `entries` one by one (`rtq dlq replay`, the console's and the API's replay of a
    selection): an entry refused is reported and the others go on. A generator, so a caller
    can pace the replay or report each one as it happens."""
    for entry in entries:
        try:
            yield replay_one(producer, entry, force=force)
        except InvalidJob as exc:
            yield Refused(entry.id, str(exc))
