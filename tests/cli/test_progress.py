"""Long-running CLI work shows progress on a terminal (and stays quiet in pipes)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.support import Rtq
from worker.domain.lanes import all_lanes, queue_depth


def _run_on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal; returns the exit status and what it showed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=follower,
                               stdin=subprocess.DEVNULL)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the command is done
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return process.wait(timeout=60), shown.decode(errors="replace")


def test_bulk_enqueue_shows_progress_on_a_terminal(rtq: Rtq, tmp_path: Path) -> None:
    """`rtq enqueue` of 12,000 lines draws a progress bar on a terminal, not in a pipe."""
    account = rtq.add_account()
    path = tmp_path / "jobs.jsonl"
    path.write_text("".join(
        json.dumps({"action": "retweet", "account_id": account.account_id, "tweet_id": str(t)})
        + "\n" for t in range(12_000)))
    # A queue no worker consumes: these 24,000 jobs are only counted, never run.
    env = {**rtq.env, "RTQ_QUEUE": "rtq-progress"}
    rtq_bin = os.path.join(os.path.dirname(sys.executable), "rtq")
    try:
        status, shown = _run_on_a_terminal([rtq_bin, "enqueue", str(path)], env)
        assert status == 0 and "enqueueing" in shown and "100%" in shown
        piped = rtq.cli("enqueue", str(path), env=env)
        assert piped.returncode == 0 and "enqueueing" not in piped.stderr
        assert queue_depth(rtq.redis, "rtq-progress") == 24_000
    finally:
        rtq.redis.delete(*all_lanes("rtq-progress"))
