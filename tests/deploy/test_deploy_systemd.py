"""systemd units for VMs (deploy/systemd/): a template worker unit, Flower, their settings,
and `systemd-analyze verify` where it exists. Their ExecStart lines are started for real in
test_deploy_commands.py."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from worker.core.settings import Settings

SYSTEMD = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
UNITS = ["rtq-worker@.service", "rtq-flower.service", "rtq-metrics.service"]
HARDENING = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
    "PrivateTmp": "yes", "PrivateDevices": "yes", "RestrictSUIDSGID": "yes",
    "CapabilityBoundingSet": "", "SystemCallFilter": "@system-service",
}


def directives(name: str) -> dict[str, str]:
    """Key=value lines of a unit (each key appears once in ours)."""
    lines = [line for line in (SYSTEMD / name).read_text().splitlines()
             if "=" in line and not line.startswith(("#", ";"))]
    keys = [line.split("=", 1)[0] for line in lines]
    assert len(keys) == len(set(keys)), f"{name} repeats a key"
    return dict(line.split("=", 1) for line in lines)


def env_example(name: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (SYSTEMD / name).read_text().splitlines()
                if line and not line.startswith("#"))


def test_worker_unit_is_a_template_so_a_host_runs_several() -> None:
    """rtq-worker@N gives each instance its own Celery node name (workerN@host)."""
    unit = directives("rtq-worker@.service")
    assert unit["ExecStart"].startswith("/opt/rtq/bin/rtq worker ")
    assert "--hostname worker%i@%H" in unit["ExecStart"]
    assert unit["WantedBy"] == "multi-user.target"


@pytest.mark.parametrize("name", UNITS)
def test_units_read_secrets_from_an_environment_file_and_run_unprivileged(name: str) -> None:
    """Secrets come from EnvironmentFile=, never the command line; the service runs as rtq
    with the sandboxing systemd offers."""
    unit = directives(name)
    assert unit["EnvironmentFile"].startswith("/etc/rtq/")
    assert not re.search(r"(password|secret|key)=", unit["ExecStart"], re.IGNORECASE)
    assert unit["User"] == "rtq" and unit["Group"] == "rtq"
    assert {key: unit.get(key) for key in HARDENING} == HARDENING
    assert unit["Restart"] == "on-failure" and unit["KillSignal"] == "SIGTERM"


def test_worker_stop_waits_for_running_jobs() -> None:
    """SIGTERM goes to Celery's main process only (it drains its pool), and SIGKILL waits
    longer than the 40 s grace, itself above the task's hard time limit."""
    unit = directives("rtq-worker@.service")
    assert unit["KillMode"] == "mixed"
    assert int(unit["TimeoutStopSec"]) > 40 > Settings().task_time_limit


def test_flower_listens_on_localhost_behind_its_login() -> None:
    """Flower binds 127.0.0.1; its env file gives the login and Redis only."""
    assert "--host 127.0.0.1" in directives("rtq-flower.service")["ExecStart"]
    assert set(env_example("flower.env.example")) == {"RTQ_REDIS_URL", "FLOWER_BASIC_AUTH"}


def test_the_exporter_listens_on_localhost_with_redis_and_its_settings_only() -> None:
    """rtq-metrics binds 127.0.0.1:9540; its env file holds Redis, the workers' prefix and
    queue, and the per-account settings: no Fernet key or X secret; they validate."""
    unit = directives("rtq-metrics.service")
    assert unit["ExecStart"] == "/opt/rtq/bin/rtq metrics --host 127.0.0.1 --port 9540"
    assert unit["EnvironmentFile"] == "/etc/rtq/metrics.env"
    values = env_example("metrics.env.example")
    assert set(values) == {"RTQ_REDIS_URL", "RTQ_KEY_PREFIX", "RTQ_QUEUE",
                           "RTQ_METRICS_PER_ACCOUNT", "RTQ_METRICS_ACCOUNT_LIMIT"}
    settings = Settings.from_env(values)
    worker = Settings.from_env(env_example("rtq.env.example"))
    assert (settings.key_prefix, settings.queue) == (worker.key_prefix, worker.queue)
    assert settings.metrics.per_account == "auto"


def test_worker_env_example_is_valid_once_the_key_is_filled_in() -> None:
    """rtq.env.example holds valid settings (JSON logs, the real X API) but for the secret."""
    values = env_example("rtq.env.example")
    assert values["RTQ_SECRET_KEY"] == ""
    settings = Settings.from_env({**values, "RTQ_SECRET_KEY": Fernet.generate_key().decode()})
    assert settings.x_api_url == "https://api.x.com" and settings.log_format == "json"


def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    """systemd's own checker finds no error or unknown directive in any unit."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    # verify also checks that ExecStart's program exists: point /opt/rtq/bin at this venv.
    venv_bin = f"{Path(sys.executable).parent}/"
    for name in UNITS:
        (tmp_path / name).write_text((SYSTEMD / name).read_text().replace("/opt/rtq/bin/",
                                                                          venv_bin))
    units = [str(tmp_path / "rtq-worker@2.service"), str(tmp_path / "rtq-flower.service"),
             str(tmp_path / "rtq-metrics.service")]
    result = subprocess.run([analyze, "verify", "--man=no", *units], check=False,
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    ours = [line for line in (result.stdout + result.stderr).splitlines() if "rtq" in line]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr
