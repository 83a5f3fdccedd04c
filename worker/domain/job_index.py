"""The account's job index: every job of an account, in the order Redis accepted it.

enqueue.lua (rtq's producers) and deliver.lua / begin.lua (a raw message, when a worker first
meets it) add each job to `rtq:account:{id}:jobs` (lua/index.lua), so finding an account's jobs
(`rtq jobs --account`, `rtq cancel --account`) reads that stream page by page instead of
scanning the keyspace: the cost follows the account's own jobs, whatever else Redis holds.
An entry outlives its record (the index is trimmed in whole nodes, a record expires alone):
readers skip ids whose record is gone.

An entry holds one field: `u`, the 16 bytes of a job id rtq made (a lowercase UUID, stored
packed: a third of the index's memory), or `j`, any other job id as it is (a raw message's
task id). Entries are read without decoding (a packed id is not text) and turned back into
the job id here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis
from redis.client import NEVER_DECODE

from worker.core.keys import Keys

PAGE_MAX = 1000
# A cursor is a stream entry id: the last entry of the page before.
_CURSOR_RE = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")


class InvalidCursor(ValueError):
    """A page cursor that no page handed out."""


@dataclass(frozen=True, slots=True)
class IndexPage:
    """Job ids, newest first, and the cursor of the next (older) page (None: no more)."""

    job_ids: list[str]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One entry: its stream id (a cursor that starts the page after it) and its job id."""

    entry_id: str
    job_id: str | None   # None: an entry without a job id (no script writes one)


_ID_PART_MAX = 2**64 - 1  # each part of a stream entry id is an unsigned 64-bit number


def check_cursor(cursor: str) -> str:
    if not _CURSOR_RE.fullmatch(cursor) or any(int(part) > _ID_PART_MAX
                                               for part in cursor.split("-")):
        raise InvalidCursor(f"{cursor!r} is not a page cursor (expected MS-SEQ, as a page's "
                            "`next` gave it)")
    return cursor


class JobIndex:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def entries(self, account_id: str, *, before: str | None = None,
                count: int = 50) -> list[IndexEntry]:
        """Up to `count` of the account's entries, newest first, older than cursor `before`
        (fewer: the index has no more)."""
        return [IndexEntry(_text(entry_id), _job_id(fields))
                for entry_id, fields in self._read(account_id, before, count)]

    def page(self, account_id: str, *, before: str | None = None,
             count: int = 50) -> IndexPage:
        """Up to `count` of the account's job ids, newest first, older than cursor `before`."""
        count = max(1, min(count, PAGE_MAX))
        raw = self._read(account_id, before, count)
        ids = [_job_id(fields) for _, fields in raw]
        more = len(raw) == count
        return IndexPage([i for i in ids if i], _text(raw[-1][0]) if more else None)

    def _read(self, account_id: str, before: str | None,
              count: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
        if before is not None and _is_first(check_cursor(before)):
            return []  # nothing is older than the first id a stream can hold (and Redis
            # refuses an exclusive range that starts before it)
        top = "+" if before is None else "(" + before
        # Undecoded, whatever the client decodes: a packed id is not text.
        raw: list[tuple[bytes, dict[bytes, bytes]]] = self._redis.execute_command(
            "XREVRANGE", self._keys.account_jobs(account_id), top, "-", "COUNT",
            max(1, min(count, PAGE_MAX)), **{NEVER_DECODE: True})
        return raw

    def newest_first(self, account_id: str, *, batch: int = 500) -> Iterator[str]:
        """Every job id of the account, newest first, `batch` per read."""
        cursor: str | None = None
        while True:
            page = self.page(account_id, before=cursor, count=batch)
            yield from page.job_ids
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def knows_account(self, account_id: str) -> bool:
        """Whether rtq knows the account: its credentials, or jobs of it in the index (a
        removed account's jobs can still wait, and be found or cancelled)."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.hexists(self._keys.accounts, account_id)
        pipe.exists(self._keys.account_jobs(account_id))
        return any(pipe.execute())

    def size(self, account_id: str) -> int:
        return int(self._redis.xlen(self._keys.account_jobs(account_id)))

    def exists(self, account_id: str) -> bool:
        return bool(self._redis.exists(self._keys.account_jobs(account_id)))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _job_id(fields: dict[Any, Any]) -> str | None:
    for name, value in fields.items():
        field = _text(name)
        if field == "u" and isinstance(value, bytes) and len(value) == 16:
            return str(uuid.UUID(bytes=value))
        if field == "j":
            return _text(value)
    return None


def _is_first(cursor: str) -> bool:
    ms, seq = cursor.split("-")
    return int(ms) == 0 and int(seq) == 0
