"""retweet-queue's worker: the Celery app, the job service and everything it stands on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from worker.celery_adapter.app import app

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    """`worker.app` (PEP 562), imported on first use, not on `import worker`.

    Celery (~0.3 s of imports) is needed by `celery -A worker ...` (Celery's app discovery reads
    `worker.app`), `from worker import app` and the workers, but not by `rtq enqueue` and the
    other commands that only talk to Redis, which import `worker.*` modules and so this package.
    """
    if name == "app":
        from worker.celery_adapter.app import app

        globals()["app"] = app  # later lookups are plain attribute reads
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
