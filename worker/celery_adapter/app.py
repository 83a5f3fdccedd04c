"""The Celery app, `worker.app`: `celery -A worker worker` and `celery -A worker flower` find it.

Configuration is read lazily (on first use of `app.conf`) so importing `worker` never reads the
environment; the worker validates settings at start-up (`worker.celery_adapter.signals`).
"""

from __future__ import annotations

from celery import Celery

app = Celery("rtq", include=["worker.celery_adapter.tasks", "worker.celery_adapter.signals"])
app.config_from_object("worker.celery_adapter.config")
