"""What every page of the console shares: the stores it reads and acts through (the same ones
the CLI uses), who is signed in, the audit record of what they did, and how a page is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from aiohttp import web

from producers.producer import Producer
from worker.core.keys import Keys
from worker.core.settings import Settings
from worker.domain.accounts import AccountStore, default_app_id
from worker.domain.dlq import DeadLetters
from worker.domain.holds import Holds
from worker.domain.jobs import JobStore
from worker.ops.audit import record
from worker.ops.stats import StatsReader
from worker.web.auth import Authenticator, Identity
from worker.web.html import Markup, page, render

T = TypeVar("T")


@dataclass
class Console:
    settings: Settings
    redis: redis.Redis
    keys: Keys
    auth: Authenticator
    stats: StatsReader
    jobs: JobStore
    dead_letters: DeadLetters
    accounts: AccountStore
    holds: Holds
    producer: Producer
    default_app: str

    @classmethod
    def build(cls, settings: Settings, client: redis.Redis, auth: Authenticator) -> Console:
        keys = Keys(settings.key_prefix)
        return cls(
            settings=settings, redis=client, keys=keys, auth=auth,
            stats=StatsReader(client, settings), jobs=JobStore(client, keys),
            dead_letters=DeadLetters(client, keys, max_entries=settings.dlq_max,
                                     ttl=settings.dlq_ttl),
            # No Fernet key: the console reads and releases accounts, never their credentials.
            accounts=AccountStore(client, keys, queue_key=settings.queue_key),
            holds=Holds(client, keys, settings.queue_key),
            producer=Producer(client, settings),
            default_app=default_app_id(settings.consumer_key),
        )


CONSOLE = web.AppKey("console", Console)
IDENTITY = "rtq.identity"


def console(request: web.Request) -> Console:
    return request.app[CONSOLE]


def identity(request: web.Request) -> Identity:
    """The signed-in login (the auth middleware refused the request otherwise)."""
    found: Identity = request[IDENTITY]
    return found


def audit(request: web.Request, action: str, target: str, jobs: int | None = None,
          **details: Any) -> None:
    """Record one operator action of the signed-in login (its name, never its secret)."""
    state = console(request)
    record(state.redis, state.keys, action, actor=f"web:{identity(request).label}",
           target=target, jobs=jobs, **details)


def can_act(request: web.Request) -> bool:
    """Whether to show action buttons: never to a read-only login."""
    return not identity(request).read_only


async def in_thread(func: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Redis calls run in a thread, so one slow read never stalls the other pages."""
    return await asyncio.to_thread(func, *args, **kwargs)


def respond(request: web.Request, title: str, body: Markup, *, current: str = "",
            status: int = 200, refresh: int | None = None) -> web.Response:
    who: Identity | None = request.get(IDENTITY)
    text = page(title, body, current=current, user=who.label if who else None,
                csrf=who.csrf if who else None, refresh=refresh)
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def problem_page(request: web.Request, status: int, title: str, message: str,
                 back: str = "/") -> web.Response:
    body = render('<p class="error">$message</p><p><a href="$back">Back</a></p>',
                  message=message, back=back)
    return respond(request, title, body, status=status)


def read_only_page(request: web.Request) -> web.Response:
    return problem_page(request, 403, "Read-only",
                        f"{identity(request).label} is a read-only login: it cannot change "
                        "anything.")
