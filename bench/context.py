"""What every scenario gets: the stage, the results, the run's size, and shared helpers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.harness import Stack
from bench.report import Figure, Results


@dataclass
class Context:
    stack: Stack
    results: Results
    quick: bool
    # Measurements a later scenario may reuse (same run, same setup), keyed by name.
    memo: dict[str, Any] = field(default_factory=dict)

    def scale(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def figure(self, scenario: str, name: str, value: float | None, unit: str, op: str = "",
               target: float | None = None, note: str = "") -> Figure:
        return self.results.add(Figure(scenario, name, value, unit, op, target, note))

    def detail(self, scenario: str, key: str, value: Any) -> None:
        self.results.detail(scenario, key, value)


def x_calls(stack: Stack) -> list[dict[str, Any]]:
    """The emulator's recorded retweet/undo calls since its last reset."""
    return [c for c in stack.admin.calls() if c["action"] in ("retweet", "undo")]


def call_summary(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Statuses, and calls that changed nothing (a second call for a pair already done)."""
    statuses = Counter(str(c["status"]) for c in calls)
    repeated = sum(1 for c in calls if c["status"] == 200 and not c["changed"])
    return {"calls": len(calls), "statuses": dict(statuses), "repeated": repeated}


def job_states(stack: Stack, job_ids: list[str]) -> dict[str, int]:
    """How many of these jobs are in each state (from their status records)."""
    counts: Counter[str] = Counter()
    for start in range(0, len(job_ids), 5000):
        pipe = stack.client.pipeline(transaction=False)
        for job_id in job_ids[start:start + 5000]:
            pipe.hget(f"rtq:job:{job_id}", "state")
        counts.update(str(state) for state in pipe.execute())
    return dict(counts)
