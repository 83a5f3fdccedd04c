"""Durations as people write them: `24h`, `90m`, `1d12h`, `2w`, `30s` (whole units, largest
first). Producers read `undo_after` and `max_delay` with it, settings RTQ_JOB_MAX_DELAY."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")


def parse_duration_text(text: str) -> timedelta | None:
    """The duration `text` names, or None if it is not one (the empty text is not)."""
    text = text.strip()
    match = _DURATION.fullmatch(text) if text else None
    if match is None:
        return None
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    try:
        return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        # A duration, only far too long: the caller's upper bound says so.
        return timedelta.max
