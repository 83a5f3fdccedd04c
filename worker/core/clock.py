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


def iso_ms(millis: int) -> str:
    """Epoch milliseconds as ISO text, exactly (integer arithmetic: float rounding cannot shift
    the millisecond, as it can between `iso(t)` and `ms(t)` of one float t)."""
    moment = datetime.fromtimestamp(millis // 1000, UTC).replace(microsecond=millis % 1000 * 1000)
    return moment.isoformat(timespec="milliseconds")
