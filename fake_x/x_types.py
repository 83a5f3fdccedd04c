"""The vocabulary of an X API call's pipeline: who called, the answer in the making, and the
exception that ends the pipeline early.

Each step in x_api.py (authentication, rate windows, faults, the endpoint's own checks) either
passes or produces an `Answer`; a step deep inside a helper raises `Reject` so it does not have
to thread the answer back by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fake_x import problems


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes
    content_type: str = problems.PROBLEM_TYPE
    changed: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def ok(body: bytes, changed: bool = False) -> Answer:
    return Answer(200, body, problems.JSON_TYPE, changed)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made an X API call, whichever way they authenticated."""

    user_id: str
    name: str
    username: str
    auth: str  # "oauth1" | "oauth2"
    consumer_key: str | None = None  # OAuth 1.0a: the app, which may be read-only
    client_id: str | None = None  # OAuth 2.0: the app


class Reject(Exception):
    """The call stops here with `answer`; `caller` is who made it, if that is known yet."""

    def __init__(self, answer: Answer, caller: Caller | None = None) -> None:
        self.answer = answer
        self.caller = caller
