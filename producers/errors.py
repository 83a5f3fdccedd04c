"""Producer-side errors."""

from __future__ import annotations

from worker.errors import EnqueueError


class InvalidJob(ValueError):
    """A job cannot be enqueued as given. `field` names the input, `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


__all__ = ["EnqueueError", "InvalidJob"]
