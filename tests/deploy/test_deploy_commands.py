"""The commands the deployment files run, started for real exactly as the files write them.

No Docker engine or systemd runs here, so each command line is read out of docker-compose.yml
(with the Dockerfile's ENTRYPOINT), deploy/k8s/*.yaml or deploy/systemd/*.service; its program
is swapped for this virtualenv's (the image's /opt/rtq/bin), Redis and X for private ones, a
published port for a free one; everything else is as written. Health checks and probes run too.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import yaml

from fake_x import EmulatorAdmin
from tests.support import Deployment, wait_for
from worker.core.settings import Settings
from worker.embedded.servers import RedisServer, find_redis_server, free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The image's /opt/rtq/bin is this virtualenv's bin; `python` is the image's interpreter.
PROGRAMS = {"rtq": BIN / "rtq", "celery": BIN / "celery", "python": Path(sys.executable)}
Command = tuple[list[str], dict[str, str]]  # argv and the environment the file declares


# --- reading the files -------------------------------------------------------------------

_VARIABLE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_]\w*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_]\w*)(?P<op>:?[-?])?(?P<arg>.*)", re.DOTALL)


class MissingVariable(Exception):
    """What `docker compose` reports for a `${VAR:?message}` whose variable is unset."""


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR:?error}."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["named"]:
            return env.get(match["named"], "")
        braced = _BRACED.fullmatch(match["braced"])
        assert braced, f"unsupported interpolation ${{{match['braced']}}}"
        current, op, arg = env.get(braced["name"]), braced["op"] or "", braced["arg"]
        missing = not current if op.startswith(":") else current is None
        if op.endswith("?") and missing:
            raise MissingVariable(arg)
        if op.endswith("-") and missing:
            return arg
        return current or ""

    return _VARIABLE.sub(replace, value)


def read_env_file(path: Path) -> dict[str, str]:
    """NAME=value lines, as docker compose and systemd's EnvironmentFile= read them."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def init_env(directory: Path) -> dict[str, str]:
    """A .env made by deploy/init-env, as a user would make it."""
    target = directory / ".env"
    subprocess.run([ROOT / "deploy" / "init-env", target], check=True, capture_output=True)
    return read_env_file(target)


def compose_services(env: dict[str, str]) -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services: dict[str, Any] = interpolate(document, env)["services"]
    return services


def dockerfile_json(instruction: str) -> list[str]:
    """The exec-form argument of the Dockerfile's last `instruction` (ENTRYPOINT, CMD)."""
    lines = [line for line in (ROOT / "Dockerfile").read_text().splitlines()
             if line.startswith(instruction + " ")]
    value: list[str] = json.loads(lines[-1].removeprefix(instruction + " "))
    return value


def compose_command(service: str, env: dict[str, str]) -> Command:
    """A service's argv: an `entrypoint` replaces the image's and drops its CMD."""
    spec = compose_services(env)[service]
    entrypoint = spec.get("entrypoint", dockerfile_json("ENTRYPOINT"))
    command = spec.get("command", [] if "entrypoint" in spec else dockerfile_json("CMD"))
    return [*entrypoint, *command], dict(spec.get("environment", {}))


def k8s_documents(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((ROOT / "deploy" / "k8s" / name).read_text()))


def k8s_container(name: str) -> dict[str, Any]:
    (deployment,) = [d for d in k8s_documents(name) if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def k8s_command(name: str) -> Command:
    """A container's argv and environment, resolving envFrom and valueFrom against
    config.yaml and the secret template."""
    container = k8s_container(name)
    sources = {(d["kind"], d["metadata"]["name"]): d.get("data") or d.get("stringData") or {}
               for f in ("config.yaml", "secret.example.yaml") for d in k8s_documents(f)}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ((kind, ref),) = source.items()
        env.update(sources[("ConfigMap" if kind == "configMapRef" else "Secret", ref["name"])])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = sources[("Secret", ref["name"])][ref["key"]]
    return [*container.get("command", []), *container.get("args", [])], env


def systemd_unit(name: str) -> dict[str, str]:
    """The unit's directives (each key once in our units)."""
    pairs = (line.split("=", 1) for line in
             (ROOT / "deploy" / "systemd" / name).read_text().splitlines()
             if "=" in line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def systemd_command(name: str, instance: str = "1") -> Command:
    """ExecStart with systemd's specifiers expanded; the environment from the example of the
    unit's EnvironmentFile= (deploy/systemd/<file>.example)."""
    unit = systemd_unit(name)
    specifiers = {"i": instance, "H": socket.gethostname(), "%": "%"}
    exec_start = re.sub(r"%(.)", lambda m: specifiers[m[1]], unit["ExecStart"])
    env_file = ROOT / "deploy" / "systemd" / (Path(unit["EnvironmentFile"]).name + ".example")
    return shlex.split(exec_start), read_env_file(env_file)


def local(argv: list[str]) -> list[str]:
    """The command with its program taken from this virtualenv."""
    program = Path(argv[0]).name
    assert program in PROGRAMS, f"unexpected program {argv[0]!r}"
    assert "/" not in argv[0] or argv[0] == f"/opt/rtq/bin/{program}", argv[0]
    return [str(PROGRAMS[program]), *argv[1:]]


def with_port(argv: list[str], written: int, port: int) -> list[str]:
    """Replace the port the file publishes (`--port=N` or `--port N`) with a free one."""
    joined = "\x00".join(argv)
    for form in (f"--port={written}", f"--port\x00{written}"):
        if form in joined:
            return joined.replace(form, form.replace(str(written), str(port))).split("\x00")
    raise AssertionError(f"{argv} does not listen on port {written}")


# --- running them -----------------------------------------------------------------------

def base_env() -> dict[str, str]:
    """What a container or unit starts with: no rtq settings, the image's PATH and hostname."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RTQ_", "SENTRY_", "FLOWER_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HOSTNAME"] = socket.gethostname()
    return env


class Started:
    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process, self.log = process, log

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        assert self.process.poll() is None, f"exited early:\n{self.text()[-3000:]}"
        return True

    def argv_and_children(self) -> str:
        """The command lines of the process and its children, as `ps` would show them."""
        pids = [self.process.pid]
        with suppress(FileNotFoundError):
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            pids += [int(pid) for pid in children.read_text().split()]
        return " ".join(Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                        for pid in pids if Path(f"/proc/{pid}").exists())


@contextmanager
def running(argv: list[str], env: dict[str, str], log: Path) -> Iterator[Started]:
    """Start `argv` in its own process group; SIGTERM it (then SIGKILL) on the way out."""
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        yield Started(process, log)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def http_status(url: str, auth: tuple[str, str] | None = None) -> int | None:
    try:
        return requests.get(url, auth=auth, timeout=5).status_code
    except requests.ConnectionError:
        return None


def run_check(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=False, env=env, capture_output=True, text=True,
                          timeout=60)


# --- workers ----------------------------------------------------------------------------

def compose_worker(tmp: Path) -> tuple[Command, list[list[str]], str]:
    env = init_env(tmp)
    test = compose_services(env)["worker"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    return compose_command("worker", env), [["sh", "-c", test[1]]], "celery@" + socket.gethostname()


def k8s_worker(tmp: Path) -> tuple[Command, list[list[str]], str]:
    container = k8s_container("worker.yaml")
    probes = [container[p]["exec"]["command"] for p in ("startupProbe", "livenessProbe")]
    return k8s_command("worker.yaml"), probes, "celery@" + socket.gethostname()


def systemd_worker(tmp: Path) -> tuple[Command, list[list[str]], str]:
    return systemd_command("rtq-worker@.service", "3"), [], f"worker3@{socket.gethostname()}"


WORKERS: dict[str, Callable[[Path], tuple[Command, list[list[str]], str]]] = {
    "docker-compose.yml": compose_worker,
    "deploy/k8s/worker.yaml": k8s_worker,
    "deploy/systemd/rtq-worker@.service": systemd_worker,
}


@pytest.mark.parametrize("source", WORKERS)
def test_the_worker_command_serves_jobs_and_passes_its_health_check(
    source: str, rtq_env: dict[str, str], admin: EmulatorAdmin, tmp_path: Path,
) -> None:
    """The worker as the file starts it becomes ready under its node name, runs a retweet to
    X, answers its health check or probes, keeps secrets out of its arguments, and shuts down
    warmly on SIGTERM."""
    (argv, declared), checks, node = WORKERS[source](tmp_path)
    deployment = Deployment(rtq_env, admin, str(tmp_path))
    env = {**base_env(), **declared, "RTQ_REDIS_URL": deployment.env["RTQ_REDIS_URL"],
           "RTQ_X_API_URL": rtq_env["RTQ_X_API_URL"], "RTQ_SECRET_KEY": rtq_env["RTQ_SECRET_KEY"]}
    try:
        with running(local(argv), env, tmp_path / "worker.log") as worker:
            wait_for(lambda: worker.alive() and f"{node} ready." in worker.text(), 30,
                     f"{source}'s worker to be ready")
            account = deployment.rtq.add_account()
            job_id = deployment.rtq.producer.enqueue("retweet", account.account_id, "20")
            (status,) = deployment.rtq.wait_terminal(job_id)
            assert status.state == "succeeded"
            assert admin.state(account.account_id) == {account.account_id: ["20"]}
            for check in checks:
                result = run_check(check, env)
                assert result.returncode == 0, (check, result.stdout, result.stderr)
            assert env["RTQ_SECRET_KEY"] not in worker.argv_and_children()
            worker.process.send_signal(signal.SIGTERM)
            assert worker.process.wait(timeout=40) == 0
    finally:
        deployment.close()


# --- Flower -----------------------------------------------------------------------------

def listening_addresses(port: int) -> set[str]:
    """The local addresses with a TCP socket listening on `port` (from /proc/net)."""
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        with suppress(FileNotFoundError):
            for line in (Path("/proc/net") / table).read_text().splitlines()[1:]:
                local_address, state = line.split()[1], line.split()[3]
                address, _, port_hex = local_address.partition(":")
                if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                    raw = bytes.fromhex(address)  # 32-bit words in host (little-endian) order
                    packed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                    found.add(socket.inet_ntop(family, packed))
    return found


def reachable_from_other_containers(port: int) -> None:
    """In a container, Flower must listen on every interface for its port to be published."""
    assert listening_addresses(port) & {"0.0.0.0", "::"}, listening_addresses(port)


def compose_flower(tmp: Path) -> tuple[Command, Callable[[int], None]]:
    env = init_env(tmp)
    test = compose_services(env)["flower"]["healthcheck"]["test"]
    assert test[0] == "CMD" and ":5555/healthcheck" in test[-1]
    assert compose_services(env)["flower"]["ports"] == ["127.0.0.1:5555:5555"]

    def health_check(port: int) -> None:
        reachable_from_other_containers(port)
        argv = local([*test[1:-1], test[-1].replace(":5555/", f":{port}/")])
        result = run_check(argv, base_env())
        assert result.returncode == 0, result.stderr

    return compose_command("flower", env), health_check


def k8s_flower(tmp: Path) -> tuple[Command, Callable[[int], None]]:
    container = k8s_container("flower.yaml")
    (declared_port,) = container["ports"]
    assert declared_port["containerPort"] == 5555

    def probes(port: int) -> None:
        reachable_from_other_containers(port)
        for probe in ("readinessProbe", "livenessProbe"):
            get = container[probe]["httpGet"]
            assert get["port"] == declared_port["name"]
            assert http_status(f"http://127.0.0.1:{port}{get['path']}") == 200

    return k8s_command("flower.yaml"), probes


def systemd_flower(tmp: Path) -> tuple[Command, Callable[[int], None]]:
    def listens_on_loopback_only(port: int) -> None:
        # On a VM, Flower stays behind a reverse proxy of the operator's choosing.
        assert listening_addresses(port) == {"127.0.0.1"}

    return systemd_command("rtq-flower.service"), listens_on_loopback_only


FLOWERS: dict[str, Callable[[Path], tuple[Command, Callable[[int], None]]]] = {
    "docker-compose.yml": compose_flower,
    "deploy/k8s/flower.yaml": k8s_flower,
    "deploy/systemd/rtq-flower.service": systemd_flower,
}


@pytest.mark.parametrize("source", FLOWERS)
def test_flower_asks_for_the_login_from_its_environment(
    source: str, redis_server: RedisServer, tmp_path: Path,
) -> None:
    """Flower as the file starts it answers 401 without credentials and 200 with the
    FLOWER_BASIC_AUTH it was given (never in its arguments); its health check passes."""
    (argv, declared), health_check = FLOWERS[source](tmp_path)
    port = free_port()
    env = {**base_env(), **declared, "RTQ_REDIS_URL": redis_server.url}
    user, password = env["FLOWER_BASIC_AUTH"].split(":", 1)
    with running(local(with_port(argv, 5555, port)), env, tmp_path / "flower.log") as flower:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: flower.alive() and http_status(f"{base}/healthcheck") == 200, 30,
                 f"{source}'s Flower to answer")
        assert http_status(f"{base}/api/workers") == 401
        assert http_status(f"{base}/api/workers", auth=(user, "wrong")) == 401
        assert http_status(f"{base}/api/workers", auth=(user, password)) == 200
        assert password not in flower.argv_and_children()
        health_check(port)


# --- the emulator and Redis of the sandbox ----------------------------------------------

def test_the_sandbox_emulator_command_serves_x_on_all_interfaces(tmp_path: Path) -> None:
    """`rtq fake-x --host 0.0.0.0 --port 8787` as compose runs it starts, answers its health
    endpoint and passes its health check."""
    env = init_env(tmp_path)
    argv, declared = compose_command("fake-x", env)
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    port = free_port()
    with running(local(with_port(argv, 8787, port)), {**base_env(), **declared},
                 tmp_path / "fake-x.log") as emulator:
        wait_for(lambda: emulator.alive()
                 and http_status(f"http://127.0.0.1:{port}/_emulator/health") == 200,
                 20, "the emulator to answer")
        assert "0.0.0.0" in listening_addresses(port)
        test = compose_services(env)["fake-x"]["healthcheck"]["test"]
        result = run_check(local([*test[1:-1], test[-1].replace(":8787/", f":{port}/")]),
                           base_env())
        assert result.returncode == 0, result.stderr


@pytest.fixture
def redis_tools(tmp_path: Path) -> tuple[dict[str, str], int]:
    """`redis-server` and `redis-cli` on PATH that use a free port and a private directory,
    as the container's own would use 6379 and /data (the machine's 6379 is never touched)."""
    port, tools = free_port(), tmp_path / "bin"
    tools.mkdir()
    redis_cli = Path(find_redis_server()).with_name("redis-cli")
    (tools / "redis-server").write_text(
        f'#!/bin/sh\nexec {find_redis_server()} "$@" --port {port} --bind 127.0.0.1 '
        f'--dir {tmp_path}\n')
    (tools / "redis-cli").write_text(f'#!/bin/sh\nexec {redis_cli} -p {port} "$@"\n')
    for tool in tools.iterdir():
        tool.chmod(0o755)
    env = {**base_env(), "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"}
    return env, port


def test_the_compose_redis_requires_the_password_keeps_it_out_of_argv_and_persists(
    redis_tools: tuple[dict[str, str], int], tmp_path: Path,
) -> None:
    """Compose's redis command enforces REDIS_PASSWORD (read from stdin, not arguments), with
    AOF everysec and noeviction; its health check passes only with the password."""
    env_file = init_env(tmp_path)
    service = compose_services(env_file)["redis"]
    tools_env, port = redis_tools
    env = {**tools_env, **service["environment"]}
    password = env["REDIS_PASSWORD"]
    with running(service["command"], env, tmp_path / "redis.log") as server:
        client = redis.Redis(port=port, password=password, decode_responses=True)

        def answers() -> bool:
            server.alive()
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_for(answers, 15, "the compose redis command to serve")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as anonymous:
            anonymous.sendall(b"PING\r\n")
            assert anonymous.recv(100).startswith(b"-NOAUTH")
        config = {key: client.config_get(key)[key]
                  for key in ("appendonly", "appendfsync", "maxmemory-policy")}
        assert config == {"appendonly": "yes", "appendfsync": "everysec",
                          "maxmemory-policy": "noeviction"}
        assert password not in server.argv_and_children()
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD-SHELL"
        assert run_check(["sh", "-c", test[1]], env).returncode == 0
        wrong = {**env, "REDISCLI_AUTH": "not-the-password"}
        assert run_check(["sh", "-c", test[1]], wrong).returncode != 0


# --- what compose gives each service ----------------------------------------------------

def test_compose_gives_each_service_a_valid_and_consistent_environment(tmp_path: Path) -> None:
    """With a .env from deploy/init-env: worker settings validate, the worker's Redis password
    is Redis's, the sandbox workers call fake-x where it listens, Flower gets no worker
    secrets, and every secret reaches containers through the environment only."""
    env = init_env(tmp_path)
    services = compose_services(env)
    worker = Settings.from_env(services["worker"]["environment"])
    assert worker.secret_keys == (env["RTQ_SECRET_KEY"],)
    assert worker.redis_url == f"redis://:{env['REDIS_PASSWORD']}@redis:6379/0"
    assert services["redis"]["environment"]["REDIS_PASSWORD"] == env["REDIS_PASSWORD"]
    emulator_argv = services["fake-x"]["command"]
    listens = emulator_argv[emulator_argv.index("--port") + 1]
    assert worker.x_api_url == f"http://fake-x:{listens}"
    assert set(services["flower"]["environment"]) == {"RTQ_REDIS_URL", "FLOWER_BASIC_AUTH"}
    for name, spec in services.items():
        argv = " ".join(map(str, [*spec.get("entrypoint", []), *spec.get("command", [])]))
        for secret in ("REDIS_PASSWORD", "RTQ_SECRET_KEY", "FLOWER_BASIC_AUTH"):
            assert env[secret] not in argv, f"{secret} in {name}'s command"


def test_compose_refuses_to_start_without_the_secrets() -> None:
    """Without a .env, compose stops naming what to set (its ${VAR:?message})."""
    with pytest.raises(MissingVariable, match="REDIS_PASSWORD"):
        compose_services({})
