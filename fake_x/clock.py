"""The emulator's notion of "now", which tests can move forward.

Rate-limit windows, reset headers, call-log times and the expiry of OAuth 2.0 codes and access
tokens read this clock. OAuth 1.0a timestamps are checked against real time, because the client
signs with its real clock.
"""

from __future__ import annotations

import time


class ShiftableClock:
    """Wall-clock time plus an offset that only grows, until `reset` (which also clears the
    rate windows that were measured against it)."""

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Move "now" forward by `seconds`; return the new now (epoch seconds)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds
        return self.now()

    def reset(self) -> None:
        self._offset = 0.0
