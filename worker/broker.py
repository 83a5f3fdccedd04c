"""How Celery reaches Redis: the broker URL and transport options for a `Settings`.

Plain `redis://` and TLS `rediss://` URLs pass through to kombu as they are.
"""

from __future__ import annotations

from typing import Any

from worker.settings import Settings


def broker_url(settings: Settings) -> str:
    return settings.redis_url


def transport_options(settings: Settings) -> dict[str, Any]:
    """Options kombu needs beyond rtq's reliability settings (Sentinel, TLS)."""
    return {}
