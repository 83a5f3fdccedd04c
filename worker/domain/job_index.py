"""The account's job index: every job of an account, in the order Redis accepted it.

enqueue.lua (rtq's producers) and deliver.lua / begin.lua (a raw message, when a worker first
meets it) add each job to `rtq:account:{id}:jobs` (lua/index.lua), so finding an account's jobs
(`rtq jobs --account`, `rtq cancel --account`) reads that stream page by page instead of
scanning the keyspace: the cost follows the account's own jobs, whatever else Redis holds.
An entry outlives its record (the index is trimmed in whole nodes, a record expires alone):
readers skip ids whose record is gone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import redis

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


def check_cursor(cursor: str) -> str:
    if not _CURSOR_RE.fullmatch(cursor):
        raise InvalidCursor(f"{cursor!r} is not a page cursor (expected MS-SEQ, as a page's "
                            "`next` gave it)")
    return cursor


class JobIndex:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def page(self, account_id: str, *, before: str | None = None,
             count: int = 50) -> IndexPage:
        """Up to `count` of the account's job ids, newest first, older than cursor `before`."""
        count = max(1, min(count, PAGE_MAX))
        top = "+" if before is None else "(" + check_cursor(before)
        entries = self._redis.xrevrange(self._keys.account_jobs(account_id), top, "-",
                                        count=count)
        ids = [_job_id(fields) for _, fields in entries]
        more = len(entries) == count
        return IndexPage([i for i in ids if i], _text(entries[-1][0]) if more else None)

    def newest_first(self, account_id: str, *, batch: int = 500) -> Iterator[str]:
        """Every job id of the account, newest first, `batch` per read."""
        cursor: str | None = None
        while True:
            page = self.page(account_id, before=cursor, count=batch)
            yield from page.job_ids
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def size(self, account_id: str) -> int:
        return int(self._redis.xlen(self._keys.account_jobs(account_id)))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _job_id(fields: dict[bytes, bytes] | dict[str, str]) -> str | None:
    for name, value in fields.items():
        if _text(name) == "j":
            return _text(value)
    return None
