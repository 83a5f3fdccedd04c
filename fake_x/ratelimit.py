"""Fixed-window request counters, per user and per endpoint, as X applies them.

A window opens with the first request after the previous one closed and lasts `window` seconds;
`x-rate-limit-reset` is its end. Time comes from the shiftable clock, so a test can jump past it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Quota:
    """The state of one window after counting a request."""

    limit: int
    remaining: int
    reset: int  # epoch seconds (emulated clock) when the window closes
    exceeded: bool


class FixedWindowLimiter:
    def __init__(self) -> None:
        # (user id, bucket) -> [window start, requests counted in it]
        self._windows: dict[tuple[str, str], list[float]] = {}

    def hit(self, user_id: str, bucket: str, limit: int, window_s: float, now: float) -> Quota:
        """Count one request; `exceeded` means it is over the limit (and was not counted)."""
        window = self._windows.get((user_id, bucket))
        if window is None or now >= window[0] + window_s:
            window = [now, 0.0]
            self._windows[(user_id, bucket)] = window
        # Round the reset up: a client that waits until `reset` must find the window closed.
        reset = math.ceil(window[0] + window_s)
        if window[1] >= limit:
            return Quota(limit=limit, remaining=0, reset=reset, exceeded=True)
        window[1] += 1
        return Quota(limit=limit, remaining=limit - int(window[1]), reset=reset, exceeded=False)

    def peek(self, user_id: str, bucket: str, limit: int, window_s: float, now: float) -> Quota:
        """The window as a request now would find it, without counting one; `exceeded` means
        that request would be refused. For answers that must report the window, not spend it."""
        window = self._windows.get((user_id, bucket))
        if window is None or now >= window[0] + window_s:
            return Quota(limit, remaining=limit, reset=math.ceil(now + window_s), exceeded=False)
        used = int(window[1])
        reset = math.ceil(window[0] + window_s)
        return Quota(limit, remaining=max(limit - used, 0), reset=reset, exceeded=used >= limit)

    def clear(self) -> None:
        self._windows.clear()
