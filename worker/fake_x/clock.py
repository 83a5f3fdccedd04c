"""The emulator's notion of "now", which tests can move forward.

Only rate-limit windows, reset headers and call-log times read this clock. OAuth timestamps are
checked against real time, because the client signs with its real clock.
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
