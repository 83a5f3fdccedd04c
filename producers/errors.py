"""Producer-side errors."""

from __future__ import annotations

from worker.core.errors import EnqueueError


class InvalidJob(ValueError):
    """A job cannot be enqueued as given. `field` names the input, `reason` says why."""

    def __init__(self, field: str, reason: str, *, enqueued: tuple[str, ...] = ()) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        # Ids of the jobs of the same bulk enqueue that Redis accepted before refusing this
        # one (see EnqueueError.enqueued); empty when the input was refused before any write.
        self.enqueued = enqueued


__all__ = ["EnqueueError", "InvalidJob"]
