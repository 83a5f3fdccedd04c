"""The Redis key schema: every key rtq writes, under one prefix (RTQ_KEY_PREFIX, default "rtq").

The Celery queue itself is the list named by RTQ_QUEUE (default `QUEUE`, "rtq"), which kombu owns.
"""

from __future__ import annotations

from dataclasses import dataclass

QUEUE = "rtq"


@dataclass(frozen=True)
class Keys:
    prefix: str = "rtq"

    @property
    def seq(self) -> str:
        """Counter: the order in which Redis accepted intents."""
        return f"{self.prefix}:seq"

    @property
    def accounts(self) -> str:
        """Hash account_id -> Fernet token of the account's credentials."""
        return f"{self.prefix}:accounts"

    def account_meta(self, account_id: str) -> str:
        """Hash of non-secret facts about an account (added_at, updated_at, state)."""
        return f"{self.prefix}:account:{account_id}"

    def account_jobs(self, account_id: str) -> str:
        """Stream of the account's jobs in the order Redis accepted them (field `u`: the 16
        bytes of a job id rtq made, or `j`: any other job id), written by enqueue.lua and
        deliver.lua/begin.lua (a raw message), trimmed after two RTQ_JOB_TTLs: the index `rtq
        jobs --account` and `rtq cancel --account` read instead of scanning (domain/job_index)."""
        return f"{self.prefix}:account:{account_id}:jobs"

    def job(self, job_id: str) -> str:
        """Hash: the job's status record (expires after RTQ_JOB_TTL)."""
        return f"{self.prefix}:job:{job_id}"

    def intent(self, account_id: str, tweet_id: str) -> str:
        """Hash {seq, job, action}: the latest intent for the pair."""
        return f"{self.prefix}:intent:{account_id}:{tweet_id}"

    def scheduled(self, account_id: str, tweet_id: str) -> str:
        """Sorted set job_id -> due (ms): the pair's scheduled jobs not yet due."""
        return f"{self.prefix}:scheduled:{account_id}:{tweet_id}"

    def known(self, account_id: str, tweet_id: str) -> str:
        """"1" retweeted / "0" not, as X last told us (expires after RTQ_KNOWN_STATE_TTL)."""
        return f"{self.prefix}:known:{account_id}:{tweet_id}"

    def claim(self, account_id: str, tweet_id: str) -> str:
        """The claim token of the delivery holding the pair (`{job_id}:{random hex}`), with a
        lease (PX)."""
        return f"{self.prefix}:claim:{account_id}:{tweet_id}"

    @property
    def parked(self) -> str:
        """Sorted set job_id -> due time (ms): jobs waiting for a retry or a rate window."""
        return f"{self.prefix}:parked"

    @property
    def parked_messages(self) -> str:
        """Hash job_id -> the Celery message to publish when due."""
        return f"{self.prefix}:parked:msg"

    @property
    def deadlines(self) -> str:
        """Sorted set job_id -> deadline (ms): only the jobs that have one (expires_at,
        max_delay, RTQ_JOB_MAX_DELAY, a raw message's `expires`), swept by the mover."""
        return f"{self.prefix}:deadlines"

    def budget(self, account_id: str, endpoint: str) -> str:
        """Hash {limit, remaining, reset (ms)}: the rate window of (account, endpoint)."""
        return f"{self.prefix}:budget:{account_id}:{endpoint}"

    def day_budget(self, account_id: str) -> str:
        """Hash: the account's 24-hour budget, when X announces one."""
        return f"{self.prefix}:budget:{account_id}:day"

    def app_day_budget(self, app_id: str) -> str:
        """Hash: an app's 24-hour budget (shared by its accounts), when X announces one."""
        return f"{self.prefix}:budget:app:{app_id}:day"

    def waiting(self, account_id: str, endpoint: str) -> str:
        """Sorted set job_id -> intent seq: jobs waiting for (account, endpoint)'s budget."""
        return f"{self.prefix}:waiting:{account_id}:{endpoint}"

    def lane_count(self, account_id: str) -> str:
        """Counter: the account's jobs in the queue's fast lane (domain/lanes.py; expires)."""
        return f"{self.prefix}:lane:{account_id}"

    @property
    def groups(self) -> str:
        """Sorted set "account:endpoint" -> when its waiting jobs may go (ms)."""
        return f"{self.prefix}:groups"

    def refresh_lock(self, account_id: str) -> str:
        """Held (with a TTL) by the one worker refreshing an OAuth 2.0 account's tokens."""
        return f"{self.prefix}:oauth2:lock:{account_id}"

    def held(self, account_id: str) -> str:
        """List of job ids held until the account is re-authorized."""
        return f"{self.prefix}:held:{account_id}"

    @property
    def outcomes(self) -> str:
        """Hash outcome -> count of jobs that reached it (for metrics)."""
        return f"{self.prefix}:stats:outcomes"

    def minute_outcomes(self, minute: int) -> str:
        """Hash outcome -> count of one minute (epoch seconds // 60): the last hour's chart
        (expires after two hours)."""
        return f"{self.prefix}:stats:minute:{minute}"

    def pause(self, scope: str) -> str:
        """String (since when, ISO): an operator's pause of `scope`: "all", "account:{id}" or
        "tweet:{id}" (rtq pause); absent when not paused."""
        return f"{self.prefix}:pause:{scope}"

    def paused(self, scope: str) -> str:
        """List: the jobs a pause holds, in the order they were delivered."""
        return f"{self.prefix}:paused:{scope}"

    @property
    def pauses(self) -> str:
        """Set: the scopes paused now (for rtq stats and rtq pause --list)."""
        return f"{self.prefix}:pauses"

    def age(self, where: str) -> str:
        """Sorted set job_id -> since when it waits (its enqueue time, ms), one per place a
        job waits: retry, scheduled, rate_window, held_account, held_app. The scripts add a
        job when it starts waiting there and remove it when it leaves (ops/latency.py reads
        the oldest)."""
        return f"{self.prefix}:age:{where}"

    @property
    def latency(self) -> str:
        """Hash "{outcome}:{bucket}" / "{outcome}:sum_ms" -> count / ms: enqueue-to-outcome
        times of finished jobs (ops/latency.py turns it into a histogram)."""
        return f"{self.prefix}:stats:latency"

    @property
    def call_statuses(self) -> str:
        """Hash HTTP status (or "none" when X never answered) -> count of calls to X."""
        return f"{self.prefix}:stats:calls"

    def worker(self, name: str) -> str:
        """A worker's heartbeat (expires when it stops beating)."""
        return f"{self.prefix}:worker:{name}"

    @property
    def workers(self) -> str:
        """Sorted set worker name -> its last heartbeat (ms): the index of the heartbeat keys,
        so readers find them without scanning the keyspace."""
        return f"{self.prefix}:workers"

    @property
    def dlq_index(self) -> str:
        """Sorted set entry_id -> failed_at (ms)."""
        return f"{self.prefix}:dlq"

    @property
    def dlq_entries(self) -> str:
        """Hash entry_id -> JSON dead-letter entry."""
        return f"{self.prefix}:dlq:entries"

    def app(self, app_id: str) -> str:
        """Hash: an app held by X (state held, reason, detail, since, until_ms); absent when the
        app is free. begin.lua builds it from the prefix and the account's app."""
        return f"{self.prefix}:app:{app_id}"

    def app_held(self, app_id: str) -> str:
        """List: the jobs waiting for a held app, in the order they were held."""
        return f"{self.prefix}:app:{app_id}:held"

    @property
    def app_holds(self) -> str:
        """Sorted set app_id -> when its hold ends (ms; +inf until an operator releases it)."""
        return f"{self.prefix}:app_holds"

    @property
    def breaker(self) -> str:
        """Hash: the circuit breaker for calls to X (state open/half_open, until_ms, ...);
        absent when closed."""
        return f"{self.prefix}:breaker"

    def breaker_window(self, index: int) -> str:
        """Hash {calls, failures}: calls to X in one breaker window (expires after two)."""
        return f"{self.prefix}:breaker:w:{index}"

    @property
    def audit(self) -> str:
        """Stream of operator actions (at, action, actor, target, jobs, details), capped at
        about AUDIT_MAX entries (ops/audit.py)."""
        return f"{self.prefix}:audit"
