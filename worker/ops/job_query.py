"""The arguments of a job listing (`rtq jobs`, the HTTP API's): an account, optionally a tweet
and a state, a page size and a cursor, each checked here so that every front end refuses bad
input alike. InvalidQuery names the argument (`account`, `tweet`, `state`, `limit`, `cursor`);
each front end says it its own way (`--state` on the command line, `state` in a query string).
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.core.ids import InvalidId, parse_account_id, parse_tweet_id
from worker.domain.job_index import InvalidCursor, check_cursor
from worker.domain.jobs import STATES

# Friendly names an operator may use for a state.
STATE_ALIASES = {"waiting": "deferred"}
DEFAULT_LIMIT = 50
LIMIT_MAX = 1000


class InvalidQuery(ValueError):
    """A listing argument that cannot be used; `argument` names it (account, tweet, state,
    limit, cursor), so each front end says it its own way (`--state`, `?state=`)."""

    def __init__(self, argument: str, reason: str) -> None:
        super().__init__(f"{argument}: {reason}")
        self.argument = argument
        self.reason = reason


@dataclass(frozen=True)
class JobQuery:
    account_id: str
    tweet_id: str | None = None
    state: str | None = None      # a record state (an alias already resolved)
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None

    @classmethod
    def parse(cls, account: object, *, tweet: object = None, state: str | None = None,
              limit: object = DEFAULT_LIMIT, cursor: str | None = None) -> JobQuery:
        """The query these arguments ask for, or InvalidQuery naming the first bad one."""
        if account is None or account == "":
            reason = "give the account whose jobs to list" + (
                " (a tweet's jobs are found per account)" if tweet not in (None, "") else "")
            raise InvalidQuery("account", reason)
        try:
            account_id = parse_account_id(account)
        except InvalidId as exc:
            raise InvalidQuery("account", str(exc)) from None
        tweet_id = None
        if tweet is not None and tweet != "":
            try:
                tweet_id = parse_tweet_id(tweet)
            except InvalidId as exc:
                raise InvalidQuery("tweet", str(exc)) from None
        return cls(account_id, tweet_id, parse_state(state), parse_limit(limit),
                   parse_cursor(cursor))


def parse_state(state: str | None) -> str | None:
    if state is None or state == "":
        return None
    name = state.strip().lower()
    name = STATE_ALIASES.get(name, name)
    if name not in STATES:
        raise InvalidQuery("state", f"unknown state {state!r} (one of: {', '.join(STATES)}; "
                           f"{', '.join(f'{a} = {s}' for a, s in STATE_ALIASES.items())})")
    return name


def parse_limit(limit: object) -> int:
    text = str(limit) if not isinstance(limit, bool) else ""
    # Digits only: int() would also take "1_0", " 5" and "+5".
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None
    if value is None or not 1 <= value <= LIMIT_MAX:
        raise InvalidQuery("limit", f"expected a whole number from 1 to {LIMIT_MAX}, got "
                           f"{limit!r}")
    return value


def parse_cursor(cursor: str | None) -> str | None:
    if cursor is None or cursor == "":
        return None
    try:
        return check_cursor(cursor)
    except InvalidCursor as exc:
        raise InvalidQuery("cursor", str(exc)) from None


class UnknownAccount(InvalidQuery):
    def __init__(self, account_id: str) -> None:
        super().__init__("account", f"unknown account {account_id} (no credentials and no "
                         "jobs in its index: `rtq accounts list` shows the accounts)")
