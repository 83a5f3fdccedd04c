"""`rtq demo` runs the main job on the embedded default and cleans up after itself."""

from __future__ import annotations

import os
import subprocess
import sys
import time


def test_demo_runs_end_to_end_and_exits_zero_within_a_minute() -> None:
    """No configuration: retweets, dedup, an undo, a retry, a rate limit and a dead letter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTQ_")}
    started = time.monotonic()
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "rtq"), "demo"], env=env,
        capture_output=True, text=True, timeout=90, check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert elapsed < 60
    rows = {line.split("  ")[0]: line for line in result.stdout.splitlines()}
    assert "succeeded" in rows["retweet"]
    assert "dead" in rows["deleted tweet -> dead letter"] and "not_found" in result.stdout
    assert rows["503 once, retried"].split()[-3:-1] == ["succeeded", "2"]
    dedup = [line for line in result.stdout.splitlines() if line.startswith("same retweet")]
    assert len(dedup) == 2 and all("skipped" in line for line in dedup)
    # The rate-limited account's later jobs waited for the next window, and X refused nothing.
    limited = [line.split() for line in result.stdout.splitlines()
               if line.startswith("rate-limited account")]
    waits = sorted(float(row[-1].rstrip("s")) for row in limited)
    assert len(limited) == 4 and waits[-1] >= 3.0
    assert "HTTP 429" not in result.stdout
    assert "done." in result.stdout
