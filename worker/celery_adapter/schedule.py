"""The worker event loop's timer schedule, without wake-ups for cancelled timers.

The prefork pool sets a timer in the main process's event loop for every job it runs (the
hard time limit, RTQ_TASK_TIME_LIMIT) and cancels it when the job ends. kombu only flags a
cancelled timer: it stays in the loop's heap until its time, and kombu's schedule sleeps until
that time, wakes, pops it and finds nothing to do. So every job woke the idle loop once, 25 s
after it ran: a worker that had just met 10,000 jobs (run, or held by a pause) spent about ten
times its idle CPU for the next 25 s (measured: `python -m bench pausecpu`). This schedule
drops cancelled timers from the head of the heap at once, whenever they are due, so the loop
sleeps until the next timer that will run.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from time import monotonic
from typing import Any

from celery import bootsteps

Entry = Any  # kombu.asynchronous.timer.Entry (kombu has no type hints)


def lean_schedule(timer: Any, now: Callable[[], float] = monotonic
                  ) -> Iterator[tuple[float | None, Entry | None]]:
    """kombu's `Timer.__iter__`, except for cancelled entries: yields `(None, entry)` for an
    entry due now, `(seconds, None)` to sleep until the next live one (at most the timer's
    max_interval), `(None, None)` when nothing is scheduled."""
    queue: list[Any] = timer._queue
    max_interval = timer.max_interval
    while True:
        if not queue:
            yield None, None
            continue
        head = queue[0]
        if head[2].canceled:
            popped = heapq.heappop(queue)
            if popped is not head:  # another thread pushed meanwhile: put it back
                heapq.heappush(queue, popped)
            continue
        delay = head[0] - now()
        if delay > 0:
            yield min(delay, max_interval), None
            continue
        popped = heapq.heappop(queue)
        if popped is head:
            yield None, head[2]
        else:
            heapq.heappush(queue, popped)


class LeanScheduleStep(bootsteps.Step):  # type: ignore[misc]
    """Gives the worker's event loop (prefork and the other pools that run one) the lean
    schedule, before it starts."""

    requires = {"celery.worker.components:Hub"}

    def include_if(self, worker: Any) -> bool:
        return bool(getattr(worker, "use_eventloop", False))

    def create(self, worker: Any) -> None:
        if worker.hub is not None:
            # Hub.scheduler is a cached property read on every loop turn: an instance
            # attribute takes its place.
            worker.hub.scheduler = lean_schedule(worker.hub.timer)
