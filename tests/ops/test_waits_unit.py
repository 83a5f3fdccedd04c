"""Why a deferred job waits, from where it waits (worker/ops/waits.py): the wait index names
the reason even when the record's words are left over from an earlier wait."""

from __future__ import annotations

from worker.core import clock
from worker.ops.waits import WHERE, Wait, held_app, wait_of

DUE_MS = 1_900_000_000_000


def replies(where: str | None, parked: float | None = None) -> list[float | None]:
    """What queue_wait_reads answers for a job in `where` (None: in no wait index)."""
    return [1.0 if w == where else None for w in WHERE] + [parked]


def test_the_wait_index_names_the_reason_over_stale_words() -> None:
    """A job paused earlier, now out of budget, still carries the pause's words: it waits for
    the rate window, with the turn its record says."""
    record = {"detail": "paused: all (rtq resume)", "due_at_ms": str(DUE_MS),
              "account_id": "7", "action": "retweet"}
    assert wait_of(record, replies("rate_window")) == Wait(
        "rate_window", clock.iso_ms(DUE_MS), "the rate window of 7:retweet")


def test_retries_and_the_breaker_share_the_parked_set_and_differ_by_words() -> None:
    """Both wait in the parked set (its score is the due time); begin.lua's `waiting: ...`
    words mark the breaker's, X's words a retry's."""
    breaker = wait_of({"detail": "waiting: calls to X are paused (breaker open)"},
                      replies("retry", DUE_MS))
    retry = wait_of({"detail": "503 Service Unavailable"}, replies("retry", DUE_MS))
    assert (breaker.reason, breaker.due_at) == ("breaker", clock.iso_ms(DUE_MS))
    assert (retry.reason, retry.detail) == ("retry", "503 Service Unavailable")


def test_holds_and_pauses_have_no_due_time_but_a_usage_cap_ends() -> None:
    app = "0123456789abcdef"
    detail = f"held: app {app} usage_capped (rtq apps release {app})"
    assert held_app(detail) == app
    capped = wait_of({"detail": detail}, replies("held_app"), {app: DUE_MS})
    assert (capped.reason, capped.due_at) == ("hold", clock.iso_ms(DUE_MS))
    assert wait_of({"detail": "x"}, replies("held_account")).due_at is None
    assert wait_of({"detail": "paused: all (rtq resume)"}, replies("paused")).reason == "pause"
    assert wait_of({}, replies(None)).reason is None
