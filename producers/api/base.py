"""What every handler of `rtq api` shares: the services it calls (the same ones the CLI and the
console call), the route table entry, problem details, query parameters read strictly (a bad
one is a 400 naming it), and the audit record of what a token did.

A handler is small: read its parameters, call one service in a thread (Redis calls block; the
event loop keeps serving), record the action if it wrote, answer JSON. It raises `Problem`
for anything else; the middleware turns that into an RFC 7807 document.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis
from aiohttp import web

from producers.producer import Producer
from worker.core.keys import Keys
from worker.core.logins import Login
from worker.core.settings import Settings
from worker.domain.accounts import AccountStore, default_app_id
from worker.domain.cancelling import Cancels
from worker.domain.dlq import BadFilter, DeadLetters, Filter, parse_filter
from worker.domain.holds import Holds
from worker.domain.jobs import JobStore
from worker.domain.pauses import Pauses
from worker.ops import audit
from worker.ops.stats import StatsReader

PROBLEM = "application/problem+json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")


@dataclass(frozen=True)
class Route:
    """One operation: its method, path, handler and OpenAPI operation object (parameters,
    request body, its own responses; the document adds the auth and scope failures).
    `public` routes need no token."""

    method: str
    path: str
    handler: Handler
    operation: dict[str, Any]
    public: bool = False

    @property
    def writes(self) -> bool:
        """Whether a read-only token is refused (every route that changes something is not
        a GET)."""
        return self.method not in ("GET", "HEAD", "OPTIONS")

    @property
    def query_names(self) -> frozenset[str]:
        return frozenset(p["name"] for p in self.operation.get("parameters", ())
                         if p["in"] == "query")


@dataclass
class Api:
    """The services behind the routes, built once per app."""

    settings: Settings
    redis: redis.Redis
    keys: Keys
    tokens: tuple[Login, ...]
    producer: Producer
    jobs: JobStore
    dead_letters: DeadLetters
    pauses: Pauses
    cancels: Cancels
    # No Fernet key: the API reads and releases accounts, never their credentials.
    accounts: AccountStore
    holds: Holds
    stats: StatsReader
    default_app: str
    document: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, client: redis.Redis, tokens: tuple[Login, ...]) -> Api:
        keys = Keys(settings.key_prefix)
        return cls(
            settings=settings, redis=client, keys=keys, tokens=tokens,
            producer=Producer(client, settings), jobs=JobStore(client, keys),
            dead_letters=DeadLetters(client, keys, max_entries=settings.dlq_max,
                                     ttl=settings.dlq_ttl),
            pauses=Pauses(client, keys),
            cancels=Cancels(client, keys, job_ttl=settings.job_ttl),
            accounts=AccountStore(client, keys, queue_key=settings.queue_key),
            holds=Holds(client, keys, settings.queue_key),
            stats=StatsReader(client, settings),
            default_app=default_app_id(settings.consumer_key),
        )


API = web.AppKey("api", Api)
LOGIN = "rtq.login"


def api(request: web.Request) -> Api:
    return request.app[API]


async def in_thread(func: Callable[..., T], *args: object, **kwargs: object) -> T:
    return await asyncio.to_thread(func, *args, **kwargs)


class Problem(Exception):
    """An answer other than success: status, title, detail, and `errors` naming each bad
    field or parameter (`[{"field", "reason"}]`)."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra

    def response(self) -> web.Response:
        return problem(self.status, self.title, self.detail, **self.extra)


def problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM)


def invalid(name: str, reason: str, status: int = 400, title: str = "Invalid Request"
            ) -> Problem:
    """A bad parameter or field, named in the detail and in `errors`."""
    return Problem(status, title, f"{name}: {reason}", errors=[{"field": name,
                                                                "reason": reason}])


def not_found(name: str, reason: str) -> Problem:
    """A well-formed id rtq does not know (an account, a job), named like a bad parameter."""
    return invalid(name, reason, 404, "Not Found")


def query_bool(request: web.Request, name: str) -> bool:
    text = request.query.get(name)
    if text is None:
        return False
    # 1/yes and 0/no as well: the first API took them, and its clients may still send them.
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise invalid(name, f"expected true or false, got {text!r}")


def query_int(request: web.Request, name: str, *, default: int | None, low: int = 1,
              high: int | None = None) -> int | None:
    text = request.query.get(name)
    if text is None:
        return default
    span = f"from {low} to {high}" if high is not None else f"of at least {low}"
    if not text.isascii() or not text.isdigit() or len(text) > 12 or not low <= int(text) \
            or (high is not None and int(text) > high):
        raise invalid(name, f"expected a whole number {span}, got {text!r}")
    return int(text)


def query_text(request: web.Request, name: str) -> str | None:
    return request.query.get(name)


def dlq_filter(request: web.Request) -> Filter:
    """The dead-letter filters (`reason`, `account`, `since`) of `rtq dlq` as query
    parameters, parsed by the CLI's own parser."""
    try:
        return parse_filter(query_text(request, "reason"), query_text(request, "account"),
                            query_text(request, "since"))
    except BadFilter as exc:
        raise invalid(exc.field, exc.reason) from None


def actor(request: web.Request) -> str:
    """Who acts, for the audit trail: the token's label (`api:token 2`), never the token."""
    login: Login | None = request.get(LOGIN)
    return f"api:{login.label}" if login else "api"


def record(request: web.Request, action: str, target: str, jobs: int | None = None,
           **details: Any) -> None:
    """Record one operator action of this request (worker/ops/audit.py); call in a thread."""
    state = api(request)
    audit.record(state.redis, state.keys, action, actor=actor(request), target=target,
                 jobs=jobs, **details)
