"""The HTTP API (`rtq api`); its routes are in the producers/api package. This module keeps the
public name `producers.http_api.create_app` working."""

from __future__ import annotations

from producers.api.app import MAX_BODY_BYTES, create_app
from producers.api.base import PROBLEM, problem
from producers.api.jobs import MAX_JOBS_PER_REQUEST

__all__ = ["MAX_BODY_BYTES", "MAX_JOBS_PER_REQUEST", "PROBLEM", "create_app", "problem"]
