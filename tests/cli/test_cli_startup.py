"""`rtq enqueue` starts fast: it imports neither Celery nor the libraries of other commands.

Issue 7: 100,000 jobs through `rtq enqueue FILE` at >= 20,000 jobs/s, where Python start-up was
a large share of the command (Celery's app on `import worker`, aiohttp for `rtq fake-x`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from tests.support import Rtq

# Needed by workers, Flower, `rtq api`, `rtq fake-x`, `rtq metrics` or OAuth 2.0, never by enqueue.
HEAVY = ("celery", "kombu", "amqp", "aiohttp", "prometheus_client", "sentry_sdk", "flower",
         "requests", "yaml")

# Runs the console script's entry point, then records every module it loaded.
RUN_AND_LIST_MODULES = """
import atexit, json, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
from worker.cli import main
main()
"""


def _heavy(modules: list[str]) -> list[str]:
    return sorted({m for m in modules if m.split(".")[0] in HEAVY})


def _fresh(code: str) -> list[str]:
    """The modules a fresh interpreter has loaded after running `code`."""
    done = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\n"
                           "print(json.dumps(sorted(sys.modules)))"],
                          check=True, capture_output=True, text=True, timeout=60)
    return list(json.loads(done.stdout.splitlines()[-1]))


def test_enqueue_from_a_file_imports_no_celery_nor_aiohttp(rtq: Rtq, tmp_path: Path) -> None:
    account = rtq.add_account()
    path = tmp_path / "jobs.jsonl"
    path.write_text("".join(json.dumps({"action": "retweet", "account_id": account.account_id,
                                        "tweet_id": str(n)}) + "\n" for n in range(1, 4)))
    modules_file = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, str(modules_file), "enqueue", str(path)],
        check=False, capture_output=True, text=True, timeout=60, env=rtq.env)
    assert done.returncode == 0, done.stderr
    job_ids = done.stdout.split()
    # Enqueued (a session worker started by an earlier test may already have run them).
    assert len(job_ids) == 3 and all(rtq.jobs.get(job_id) is not None for job_id in job_ids)
    modules = json.loads(modules_file.read_text())
    assert "worker.cli.jobs" in modules  # the list is the one of the command that ran
    assert _heavy(modules) == []
    # The other commands' modules are not loaded either.
    assert not {"worker.cli.api", "worker.cli.ops", "worker.cli.dlq", "fake_x",
                "worker.celery_adapter.app", "worker.celery_adapter.broker"} & set(modules)


def test_import_worker_leaves_the_celery_app_until_it_is_used() -> None:
    assert _heavy(_fresh("import worker, worker.cli, worker.cli.jobs")) == []
    modules = _fresh("import worker\nassert type(worker.app).__name__ == 'Celery'\n"
                     "from worker import app\nassert app is worker.app\n"
                     "assert app is __import__('worker.celery_adapter.app').celery_adapter.app.app")
    assert "celery" in modules and "worker.celery_adapter.app" in modules


def test_worker_has_no_other_lazy_attribute() -> None:
    import worker

    assert worker.__all__ == ["app"]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        worker.nope  # noqa: B018


def test_every_lazy_command_loads_under_its_name() -> None:
    from worker.cli import LAZY_COMMANDS, cli

    with click.Context(cli) as ctx:
        names = cli.list_commands(ctx)
        assert set(LAZY_COMMANDS) <= set(names) and names == sorted(names)
        for name in names:
            command = cli.get_command(ctx, name)
            assert isinstance(command, click.Command) and command.name == name


def test_help_lists_every_command_with_its_short_help(rtq: Rtq) -> None:
    result = rtq.cli("--help")
    assert result.returncode == 0
    listed = result.stdout.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed] == [
        "accounts", "api", "apps", "audit", "cancel", "demo", "dlq", "enqueue", "fake-x",
        "flower", "jobs", "keygen", "metrics", "pair", "pause", "resume", "retweet", "stats",
        "status", "undo", "web", "worker"]
    assert all(len(line.split()) > 1 for line in listed)
