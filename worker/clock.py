"""Time in one place: ISO-8601 UTC strings with an offset, and epoch milliseconds."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    return time.time()


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def now_iso() -> str:
    return iso(time.time())


def ms(epoch: float) -> int:
    return int(epoch * 1000)
