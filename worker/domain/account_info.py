"""What an operator reads of the accounts: state, rate budgets, held jobs, the app they call X
as and why they are held (`rtq accounts list`, `rtq stats`). No secret is read here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis

from worker.core import clock
from worker.core.keys import Keys

# Every state an account can be in (its meta hash's `state`; absent means active).
ACCOUNT_STATES = ("active", "needs_reauth", "locked", "suspended")


@dataclass(frozen=True)
class Budget:
    """What is left of one rate window, as rtq knows it."""

    limit: int | None
    remaining: int | None
    reset_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"limit": self.limit, "remaining": self.remaining, "reset_at": self.reset_at}


@dataclass(frozen=True)
class AccountInfo:
    """One account as an operator sees it: `state` is active, needs_reauth, locked or
    suspended; `app` the app it calls X as ("default": the deployment's RTQ_CONSUMER_KEY);
    `detail` and `held_since` say why and since when X refuses it (locked, suspended)."""

    account_id: str
    added_at: str | None
    updated_at: str | None
    state: str
    own_consumer_key: bool
    rate_limit: str | None = None
    budgets: dict[str, Budget] = field(default_factory=dict)
    held: int = 0
    app: str | None = None
    detail: str | None = None
    held_since: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "state": self.state,
            "own_consumer_key": self.own_consumer_key,
            "rate_limit": self.rate_limit,
            "budgets": {name: budget.as_dict() for name, budget in self.budgets.items()},
            "held_jobs": self.held,
            "app": self.app,
            "detail": self.detail,
            "held_since": self.held_since,
            "added_at": self.added_at,
            "updated_at": self.updated_at,
        }


def _budget(fields: dict[str, str], now_ms: int) -> Budget:
    reset = int(fields["reset"]) if fields.get("reset", "").isdigit() else None
    limit = int(fields["limit"]) if fields.get("limit", "").isdigit() else None
    remaining = int(fields["remaining"]) if fields.get("remaining", "").lstrip("-").isdigit() \
        else None
    if reset is not None and reset <= now_ms:
        remaining = limit  # the window has closed: it is full again
    return Budget(limit, remaining, clock.iso(reset / 1000) if reset is not None else None)


def list_accounts(client: redis.Redis, keys: Keys) -> list[AccountInfo]:
    """Every account with its state, budgets and held jobs, in id order."""
    ids = sorted(client.hkeys(keys.accounts), key=lambda i: (len(i), i))
    pipe = client.pipeline(transaction=False)
    budget_names = ("retweet", "undo", "day")
    for account_id in ids:
        pipe.hgetall(keys.account_meta(account_id))
        pipe.llen(keys.held(account_id))
        for name in budget_names:
            key = (keys.day_budget(account_id) if name == "day"
                   else keys.budget(account_id, name))
            pipe.hgetall(key)
    results = pipe.execute()
    infos = []
    step = 2 + len(budget_names)
    now_ms = clock.ms(clock.now())
    for index, account_id in enumerate(ids):
        meta, held, *budgets = results[index * step:(index + 1) * step]
        infos.append(AccountInfo(
            account_id=account_id,
            added_at=meta.get("added_at"),
            updated_at=meta.get("updated_at"),
            state=meta.get("state", "active"),
            own_consumer_key=meta.get("own_consumer_key") == "1",
            rate_limit=(f"{meta['rate_limit']}/{meta['rate_window']}"
                        if "rate_limit" in meta else None),
            budgets={name: _budget(fields, now_ms)
                     for name, fields in zip(budget_names, budgets, strict=True) if fields},
            held=int(held),
            app=meta.get("app") or (None if meta.get("own_consumer_key") == "1" else "default"),
            detail=meta.get("held_detail"),
            held_since=meta.get("held_since"),
        ))
    return infos
