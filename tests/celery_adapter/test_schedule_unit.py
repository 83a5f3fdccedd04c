"""The event loop's lean timer schedule: cancelled timers (every finished job's time limit)
never wake the loop; live ones run as kombu's own schedule runs them."""

from __future__ import annotations

from kombu.asynchronous.timer import Timer

from worker.celery_adapter.schedule import lean_schedule

NOW = 1000.0


def clock() -> float:
    return NOW


def test_cancelled_timers_leave_the_heap_at_once_instead_of_waking_the_loop() -> None:
    """10,000 cancelled time limits due over the next 25 s and one live timer in 30 s: kombu's
    schedule sleeps until the first cancelled one; the lean one drops them all and sleeps until
    the live one (capped at max_interval)."""
    timer = Timer(max_interval=60)
    for i in range(10_000):
        timer.cancel(timer.enter_at(Timer.Entry(lambda: None), NOW + 25 * i / 10_000))
    timer.enter_at(Timer.Entry(lambda: None), NOW + 30)
    kombu_delay, _ = next(iter(timer.__iter__(nowfun=clock)))
    assert kombu_delay is not None and kombu_delay < 0.01
    delay, entry = next(lean_schedule(timer, now=clock))
    assert (delay, entry) == (30, None) and len(timer) == 1


def test_due_live_timers_run_in_order_and_an_empty_heap_says_so() -> None:
    ran: list[str] = []
    timer = Timer(max_interval=10)
    for name, at in (("b", NOW - 1), ("a", NOW - 2), ("later", NOW + 100)):
        timer.enter_at(Timer.Entry(ran.append, (name,)), at)
    timer.cancel(timer.enter_at(Timer.Entry(ran.append, ("cancelled",)), NOW - 3))
    schedule = lean_schedule(timer, now=clock)
    for _ in range(2):
        delay, entry = next(schedule)
        assert delay is None and entry is not None
        entry()
    assert ran == ["a", "b"]
    assert next(schedule) == (10, None)  # the later one, capped at max_interval
    timer.clear()
    assert next(schedule) == (None, None)
