"""retweet-queue's worker: the Celery app, the job service and everything it stands on."""

from worker.celery_app import app

__all__ = ["app"]
