"""The audit trail of operator actions: one entry per action in a capped Redis stream
(`Keys.audit`, MAXLEN ~ AUDIT_MAX) and one structured log line (logger `rtq.audit`).

Every surface that acts (the CLI, `rtq web`, `rtq api`) calls `record` once, after the action
succeeded; an action that fails records nothing. An entry names who (`actor`), what
(`action`, `target`), how many jobs (`jobs`, when known) and short `details`; never a secret:
details under secret-looking names are filtered and text is scrubbed before it is written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis

from worker.core import clock
from worker.core.keys import Keys
from worker.core.observability import scrub, scrub_text

AUDIT_MAX = 10_000
ACTIONS = ("accounts.add", "accounts.remove", "accounts.release", "accounts.rotate-keys",
           "accounts.limit", "apps.release", "dlq.replay", "dlq.purge", "pause", "resume",
           "cancel")
LOGGER = logging.getLogger("rtq.audit")
_PAGE = 500
_MAX_IDS = 10


@dataclass(frozen=True)
class AuditEntry:
    """One recorded operator action, as read back from the stream."""

    id: str
    at: str
    action: str
    actor: str
    target: str
    jobs: int | None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at, "action": self.action, "actor": self.actor,
                "target": self.target, "jobs": self.jobs, "details": self.details}


def record(client: redis.Redis, keys: Keys, action: str, *, actor: str, target: str,
           jobs: int | None = None, max_entries: int = AUDIT_MAX, **details: Any) -> str:
    """Append one entry (trimmed approximately to `max_entries`) and log it; its stream id."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    clean = {k: v for k, v in scrub(details).items() if v is not None}
    fields = {"at": clock.now_iso(), "action": action, "actor": scrub_text(actor),
              "target": scrub_text(target)}
    if jobs is not None:
        fields["jobs"] = str(jobs)
    if clean:
        fields["details"] = json.dumps(clean, separators=(",", ":"), default=str)
    entry_id = str(client.xadd(keys.audit, fields,
                               maxlen=max_entries, approximate=True))
    extra = {**fields, "jobs": jobs, "details": clean}
    text = " ".join(f"{k}={v}" for k, v in clean.items())
    LOGGER.info("audit %s target=%s jobs=%s actor=%s%s", action, fields["target"],
                "-" if jobs is None else jobs, fields["actor"], f" {text}" if text else "",
                extra=extra)
    return entry_id


def entries(client: redis.Redis, keys: Keys, *, limit: int | None = None,
            action: str | None = None, since: datetime | None = None) -> list[AuditEntry]:
    """The newest entries first, at most `limit`, only `action`'s, only those since `since`."""
    found: list[AuditEntry] = []
    for entry in _newest_first(client, keys, since):
        if action is None or entry.action == action:
            found.append(entry)
            if limit is not None and len(found) >= limit:
                break
    return found


def _newest_first(client: redis.Redis, keys: Keys, since: datetime | None
                  ) -> Iterator[AuditEntry]:
    low = str(clock.ms(since.timestamp())) if since is not None else "-"
    high = "+"
    while True:
        page = client.xrevrange(keys.audit, max=high, min=low, count=_PAGE)
        for entry_id, fields in page:
            yield _parse(str(entry_id), fields)
        if len(page) < _PAGE:
            return
        high = f"({page[-1][0]}"


def _parse(entry_id: str, fields: dict[str, str]) -> AuditEntry:
    jobs = fields.get("jobs")
    return AuditEntry(id=entry_id, at=fields.get("at", ""), action=fields.get("action", ""),
                      actor=fields.get("actor", ""), target=fields.get("target", ""),
                      jobs=int(jobs) if jobs else None,
                      details=json.loads(fields["details"]) if fields.get("details") else {})


def describe_ids(ids: Iterable[str]) -> str:
    """Entry ids as a target: the first few, and how many more."""
    given = list(ids)
    shown = ",".join(given[:_MAX_IDS])
    return shown + (f" (+{len(given) - _MAX_IDS} more)" if len(given) > _MAX_IDS else "")


def describe_filter(*, reason: str | None = None, account: str | None = None,
                    since: str | None = None, limit: int | str | None = None) -> str:
    """A dead-letter selection as a target: `dlq all`, or `dlq reason=... account=...`."""
    parts = [f"{name}={value}" for name, value in
             (("reason", reason), ("account", account), ("since", since), ("limit", limit))
             if value not in (None, "")]
    return "dlq " + (" ".join(parts) if parts else "all")
