"""The exception tree. Retry, hold or dead-letter is decided from the type, in one place
(`service`).

    RtqError
     ├── XError                        an answer (or no answer) from X
     │    ├── RetryableXError          worth another attempt, with backoff
     │    │    ├── XServerError        5xx, or an answer we cannot read
     │    │    └── XTransportError     timeout, connection refused/reset
     │    ├── RateLimited              429: defer to `reset_at`, spends no attempt
     │    ├── HoldError                a condition of more than this job: it and its peers wait,
     │    │    │                       spending no attempt, until released (or `until`)
     │    │    ├── AppHeld             the whole app (consumer key / OAuth 2.0 client)
     │    │    │    ├── CreditsDepleted   402                      hold credits_depleted
     │    │    │    ├── UsageCapped       429 UsageCapExceeded     hold usage_capped (to period end)
     │    │    │    └── AppForbidden      403 app permissions      hold app_forbidden
     │    │    └── AccountHeld         the account, whatever the tweet
     │    │         ├── AccountLocked     403 code 326 / "locked"   state locked
     │    │         └── AccountSuspended  403 code 64 / "suspended" state suspended
     │    └── PermanentXError          a decision: dead-letter at once
     │         ├── InvalidRequest      400 (and other 4xx)     reason invalid_request
     │         ├── Unauthorized        401                     reason unauthorized
     │         ├── Forbidden           403 (this tweet)        reason forbidden
     │         └── NotFound            404                     reason not_found
     ├── MalformedMessage              a task message we cannot act on  (malformed_message)
     ├── UnknownAccount                no credentials for the account   (unknown_account)
     └── EnqueueError                  Redis did not accept a job (producer side)

`SettingsError` (a ValueError) names a missing or invalid environment variable;
`producers.InvalidJob` (a ValueError) is the producer-side validation error.
No exception message ever carries a credential: they are built from X's `detail` and ids only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RateInfo:
    """X's `x-rate-limit-*` headers for one answer (and the 24-hour ones, when sent);
    resets are epoch seconds."""

    limit: int | None
    remaining: int | None
    reset_at: float | None
    user_day: tuple[int | None, int | None, float | None] | None = None
    app_day: tuple[int | None, int | None, float | None] | None = None


class SettingsError(ValueError):
    """An environment variable is missing or invalid; the message names it."""


class RtqError(Exception):
    """Base of every error rtq raises on purpose."""


class XError(RtqError):
    reason = "x_error"

    def __init__(
        self,
        detail: str,
        *,
        http_status: int | None = None,
        rate: RateInfo | None = None,
        problem_type: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.http_status = http_status
        self.rate = rate
        self.problem_type = problem_type


class RetryableXError(XError):
    reason = "retries_exhausted"


class XServerError(RetryableXError):
    pass


class XTransportError(RetryableXError):
    pass


class RateLimited(XError):
    reason = "rate_limited"

    def __init__(self, detail: str, *, reset_at: float, **kwargs: object) -> None:
        super().__init__(detail, **kwargs)  # type: ignore[arg-type]
        self.reset_at = reset_at


class HoldError(XError):
    """X refuses every call of an app or an account until someone acts (or, for a usage cap,
    until the period ends: `until`, epoch seconds). `reason` names the hold."""

    reason = "held"

    def __init__(self, detail: str, *, until: float | None = None, **kwargs: object) -> None:
        super().__init__(detail, **kwargs)  # type: ignore[arg-type]
        self.until = until


class AppHeld(HoldError):
    pass


class CreditsDepleted(AppHeld):
    reason = "credits_depleted"


class UsageCapped(AppHeld):
    reason = "usage_capped"


class AppForbidden(AppHeld):
    reason = "app_forbidden"


class AccountHeld(HoldError):
    pass


class AccountLocked(AccountHeld):
    reason = "locked"


class AccountSuspended(AccountHeld):
    reason = "suspended"


class PermanentXError(XError):
    reason = "invalid_request"


class InvalidRequest(PermanentXError):
    reason = "invalid_request"


class Unauthorized(PermanentXError):
    reason = "unauthorized"


class Forbidden(PermanentXError):
    reason = "forbidden"


class NotFound(PermanentXError):
    reason = "not_found"


class MalformedMessage(RtqError):
    reason = "malformed_message"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class UnknownAccount(RtqError):
    reason = "unknown_account"

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account_id: no credentials stored for account {account_id}")
        self.account_id = account_id


class EnqueueError(RtqError):
    """Redis did not accept the job. For a bulk enqueue, `enqueued` holds the ids of the jobs
    Redis had accepted before (in input order; a batch whose reply was lost is not among them,
    though Redis may have recorded it); for a single job it is empty: nothing was enqueued."""

    def __init__(self, message: str, *, enqueued: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.enqueued = enqueued
