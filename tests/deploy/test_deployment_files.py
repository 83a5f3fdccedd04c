"""Deployment files, validated without a Docker engine (none runs in CI): the Compose file
against the Compose Specification, the Dockerfile and .dockerignore by parsing them, and the
.env workflow. test_deploy_commands.py starts what they run."""

from __future__ import annotations

import json
import re
import stat
import subprocess
from pathlib import Path

import jsonschema
import yaml
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
# Vendored with its licence and origin (tests/deploy/schemas/README.md): the suite reads nothing
# outside the clone.
SCHEMA = Path(__file__).resolve().parent / "schemas" / "compose-spec.json"


def compose() -> dict[str, object]:
    document: dict[str, object] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def services() -> dict[str, dict[str, object]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def test_compose_file_matches_the_compose_specification() -> None:
    """docker-compose.yml validates against the Compose Specification's JSON Schema."""
    # The schema is draft-07; name the validator so no metaschema lookup is needed.
    compose_validator().validate(compose())
    assert set(services()) == {"redis", "worker", "flower", "metrics", "fake-x"}


def compose_validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))


def test_the_compose_schema_refuses_a_broken_compose_file() -> None:
    """The vendored schema is the real one: a misspelt service key and a wrong type both fail."""
    broken = compose()
    worker = dict(services()["worker"])
    worker["restrat"] = "always"
    broken["services"] = {**services(), "worker": worker}
    errors = list(compose_validator().iter_errors(broken))
    assert any("restrat" in error.message for error in errors), errors
    wrong_type = {**compose(), "services": {"redis": {"image": "redis", "ports": "6379"}}}
    assert not compose_validator().is_valid(wrong_type)


def test_compose_redis_persists_refuses_eviction_and_keeps_its_data() -> None:
    """AOF everysec, noeviction and a named volume at /data, Redis's working directory."""
    redis = services()["redis"]
    command = " ".join(redis["command"])  # type: ignore[arg-type]
    assert "--appendonly yes" in command and "--appendfsync everysec" in command
    assert "--maxmemory-policy noeviction" in command
    assert redis["volumes"] == ["redis-data:/data"]
    assert "redis-data" in compose()["volumes"]  # type: ignore[operator]
    assert "ports" not in redis, "Redis must not be published outside compose's network"


def test_compose_workers_scale_and_stop_gracefully() -> None:
    """No fixed name or port (so --scale works), a health check, a 40 s warm-shutdown grace,
    and a start only once Redis is healthy."""
    worker = services()["worker"]
    assert not {"container_name", "ports", "hostname"} & set(worker)
    assert worker["stop_grace_period"] == "40s"
    assert worker["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert "inspect ping" in worker["healthcheck"]["test"][1]  # type: ignore[index]
    assert worker["restart"] == "unless-stopped"


def test_every_compose_service_has_a_health_check_and_bounded_logs() -> None:
    """Each service says when it is healthy, and its logs cannot fill the disk."""
    for name, spec in services().items():
        assert spec["healthcheck"]["test"], name  # type: ignore[index]
        assert spec["logging"]["options"]["max-size"], name  # type: ignore[index]


def test_flower_is_published_on_localhost_only_and_the_emulator_only_in_the_sandbox() -> None:
    """Flower and the emulator are reachable from this host alone; the emulator runs only
    under `--profile sandbox`."""
    assert services()["flower"]["ports"] == ["127.0.0.1:5555:5555"]
    assert services()["fake-x"]["profiles"] == ["sandbox"]
    assert services()["fake-x"]["ports"] == ["127.0.0.1:8787:8787"]
    assert all("profiles" not in services()[name]
               for name in ("redis", "worker", "flower", "metrics"))


def test_the_metrics_exporter_reads_redis_only_and_is_published_on_localhost() -> None:
    """`rtq metrics` gets Redis and its own two settings (no X or Fernet secret), waits for a
    healthy Redis, listens in the container on 9540, published on 127.0.0.1 alone, and its
    health check opens a connection instead of paying for a scrape."""
    metrics = services()["metrics"]
    assert metrics["command"] == ["metrics", "--host", "0.0.0.0", "--port", "9540"]
    assert metrics["ports"] == ["127.0.0.1:9540:9540"]
    assert set(metrics["environment"]) == {  # type: ignore[arg-type]
        "RTQ_REDIS_URL", "RTQ_METRICS_PER_ACCOUNT", "RTQ_METRICS_ACCOUNT_LIMIT"}
    assert metrics["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert "create_connection(('127.0.0.1', 9540)" in metrics["healthcheck"]["test"][-1]  # type: ignore[index]
    assert metrics["restart"] == "unless-stopped"


def test_env_example_names_every_variable_compose_reads() -> None:
    """A .env copied from .env.example leaves no ${VAR} of docker-compose.yml undocumented."""
    used = set(re.findall(r"\$\{([A-Za-z_]\w*)", (ROOT / "docker-compose.yml").read_text()))
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Za-z_]\w*)=", example, re.MULTILINE))
    assert used <= documented, used - documented


def test_env_file_is_ignored_and_the_example_is_committed() -> None:
    """Secrets live in .env, which git ignores."""
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert (ROOT / ".env.example").exists()


def test_init_env_writes_fresh_secrets_readable_by_the_owner_only(tmp_path: Path) -> None:
    """deploy/init-env fills the Redis password, a valid Fernet key and Flower's login, with
    mode 0600, and never overwrites an existing .env."""
    target = tmp_path / ".env"
    script = ROOT / "deploy" / "init-env"
    subprocess.run([script, target], check=True, capture_output=True)
    values = dict(line.split("=", 1) for line in target.read_text().splitlines()
                  if line and not line.startswith("#"))
    Fernet(values["RTQ_SECRET_KEY"].encode())
    assert re.fullmatch(r"[0-9a-f]{48}", values["REDIS_PASSWORD"])
    assert re.fullmatch(r"admin:[0-9a-f]{32}", values["FLOWER_BASIC_AUTH"])
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    again = subprocess.run([script, target], check=False, capture_output=True, text=True)
    assert again.returncode != 0 and "not overwriting" in again.stderr
    assert target.read_text().count(values["RTQ_SECRET_KEY"]) == 1


# --- Dockerfile ---------------------------------------------------------------------------

def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in dockerfile():
        if instruction[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def test_dockerfile_builds_in_one_stage_and_runs_from_a_slim_one() -> None:
    """Two stages from a slim Python base; pip and the sources stay in the build stage."""
    args = dict(arg.split("=", 1) for kind, arg in dockerfile() if kind == "ARG")
    build, runtime = stages()
    assert re.fullmatch(r"python:3\.1[1-9]-slim(@sha256:[0-9a-f]{64})?", args["PYTHON_IMAGE"])
    assert build[0] == ("FROM", "${PYTHON_IMAGE} AS build")
    assert runtime[0] == ("FROM", "${PYTHON_IMAGE} AS runtime")
    copies = [arguments for kind, arguments in runtime if kind == "COPY"]
    assert copies == ["--from=build /opt/rtq /opt/rtq"], "only the built virtualenv is copied"
    runs = " ".join(arguments for kind, arguments in runtime if kind == "RUN")
    assert not re.search(r"\b(apt-get|apk|pip|gcc|make)\b", runs), runs
    build_env = " ".join(arguments for kind, arguments in build if kind == "ENV")
    assert "PIP_NO_CACHE_DIR=1" in build_env
    assert "pip uninstall --yes pip setuptools" in " ".join(a for k, a in build if k == "RUN")


def test_dockerfile_runs_rtq_as_a_fixed_non_root_user() -> None:
    """The final stage switches to uid 10001 (what Kubernetes' runAsUser names) and runs rtq."""
    runtime = stages()[-1]
    (user,) = [arguments for kind, arguments in runtime if kind == "USER"]
    assert user == "10001:10001"
    assert "--uid 10001" in " ".join(arguments for kind, arguments in runtime if kind == "RUN")
    assert ("ENTRYPOINT", '["rtq"]') in runtime and ("CMD", '["worker"]') in runtime
    assert ("STOPSIGNAL", "SIGTERM") in runtime
    labels = " ".join(arguments for kind, arguments in runtime if kind == "LABEL")
    assert "org.opencontainers.image.title" in labels


# --- .dockerignore ------------------------------------------------------------------------

def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go's filepath.Match plus **) as a regular expression."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i:end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def in_build_context(path: str) -> bool:
    """Whether Docker sends `path`: the last pattern matching it or a parent decides."""
    included = True
    parts = path.split("/")
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        regex = _pattern(line.lstrip("!").strip().strip("/"))
        if any(regex.fullmatch("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            included = negated
    return included


def test_the_build_context_holds_the_sources_and_nothing_secret() -> None:
    """Everything the Dockerfile copies reaches the build, Lua scripts included; .env, git,
    the virtualenv, tests and bytecode never do."""
    copied = [arguments.split()[0] for kind, arguments in stages()[0] if kind == "COPY"]
    sources = [path for argument in copied for path in (ROOT / argument).rglob("*")
               if path.is_file() and "__pycache__" not in path.parts]
    sources += [ROOT / argument for argument in copied if (ROOT / argument).is_file()]
    assert any(path.suffix == ".lua" for path in sources)
    for path in sources:
        assert in_build_context(path.relative_to(ROOT).as_posix()), path
    for path in (".env", ".git/HEAD", ".venv/bin/python", "tests/conftest.py", "bench/x.py",
                 "worker/__pycache__/tasks.cpython-311.pyc", "worker/tasks.pyc",
                 "deploy/k8s/secret.example.yaml"):
        assert not in_build_context(path), path
