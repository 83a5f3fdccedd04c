"""The exporter (`rtq metrics`) started for real exactly as docker-compose.yml,
deploy/k8s/metrics.yaml and deploy/systemd/rtq-metrics.service write it (the helpers of
test_deploy_commands.py swap in this virtualenv, a private Redis and a free port), scraped,
health-checked, and stopped."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.test_deploy_commands import (
    Command,
    base_env,
    compose_command,
    compose_services,
    init_env,
    k8s_command,
    k8s_container,
    listening_addresses,
    local,
    reachable_from_other_containers,
    run_check,
    running,
    systemd_command,
    with_port,
)
from tests.support import wait_for
from worker.embedded.servers import RedisServer, free_port

Check = Callable[[int], None]


def compose_metrics(tmp: Path) -> tuple[Command, Check]:
    env = init_env(tmp)
    test = compose_services(env)["metrics"]["healthcheck"]["test"]
    assert test[0] == "CMD" and "9540" in test[-1]

    def health_check(port: int) -> None:
        reachable_from_other_containers(port)
        result = run_check(local([*test[1:-1], test[-1].replace("9540", str(port))]),
                           base_env())
        assert result.returncode == 0, result.stderr

    return compose_command("metrics", env), health_check


def k8s_metrics(tmp: Path) -> tuple[Command, Check]:
    container = k8s_container("metrics.yaml")

    def probes(port: int) -> None:
        reachable_from_other_containers(port)
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["tcpSocket"]["port"] == container["ports"][0]["name"]

    return k8s_command("metrics.yaml"), probes


def systemd_metrics(tmp: Path) -> tuple[Command, Check]:
    def listens_on_loopback_only(port: int) -> None:
        assert listening_addresses(port) == {"127.0.0.1"}

    return systemd_command("rtq-metrics.service"), listens_on_loopback_only


EXPORTERS: dict[str, Callable[[Path], tuple[Command, Check]]] = {
    "docker-compose.yml": compose_metrics,
    "deploy/k8s/metrics.yaml": k8s_metrics,
    "deploy/systemd/rtq-metrics.service": systemd_metrics,
}


def scrape(url: str) -> dict[str, float] | None:
    """Unlabelled samples of one scrape, or None while nothing answers."""
    try:
        text = requests.get(url, timeout=10).text
    except requests.ConnectionError:
        return None
    return {sample.name: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples if not sample.labels}


@pytest.mark.parametrize("source", EXPORTERS)
def test_the_exporter_command_serves_metrics_read_from_redis(
    source: str, redis_server: RedisServer, tmp_path: Path,
) -> None:
    """As the file starts it, `rtq metrics` answers /metrics with rtq_up 1 (it read Redis)
    and the file's per-account setting, passes its health check, and stops on SIGTERM."""
    (argv, declared), health_check = EXPORTERS[source](tmp_path)
    port = free_port()
    env = {**base_env(), **declared, "RTQ_REDIS_URL": redis_server.url}
    assert "RTQ_SECRET_KEY" not in declared
    with running(local(with_port(argv, 9540, port)), env, tmp_path / "metrics.log") as exporter:
        samples = wait_for(lambda: exporter.alive() and scrape(f"http://127.0.0.1:{port}/metrics"),
                           30, f"{source}'s exporter to answer")
        assert samples["rtq_up"] == 1
        assert samples["rtq_metrics_per_account"] == 1  # auto, and fewer than 100 accounts
        health_check(port)
        exporter.process.send_signal(signal.SIGTERM)
        assert exporter.process.wait(timeout=15) is not None
