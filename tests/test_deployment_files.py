"""Deployment files, validated without a Docker engine (none runs in CI)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT.parent / "shared" / "schemas" / "compose-spec.json"


def test_compose_file_matches_the_compose_specification() -> None:
    """docker-compose.yml validates against the Compose Specification's JSON Schema."""
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    # CI runs with shared/ beside the clone.
    assert SCHEMA.exists(), f"compose schema not found at {SCHEMA}"
    # The schema is draft-07; name the validator so no metaschema lookup is needed.
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(document)
    services = document["services"]
    assert {"redis", "worker", "flower", "fake-x"} <= set(services)
    assert services["fake-x"]["profiles"] == ["sandbox"]
    assert all(p.startswith("127.0.0.1:") for p in services["flower"]["ports"])
    redis_command = " ".join(services["redis"]["command"])
    assert "--appendfsync everysec" in redis_command and "noeviction" in redis_command


def test_dockerfile_is_multi_stage_and_runs_as_non_root() -> None:
    """Two stages; the final one switches to a non-root user and runs rtq."""
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    stages = [line for line in lines if line.upper().startswith("FROM ")]
    assert len(stages) == 2 and "slim" in stages[-1]
    final = lines[lines.index(stages[-1]):]
    assert any(line.startswith("USER ") and "root" not in line for line in final)
    assert 'ENTRYPOINT ["rtq"]' in final


def test_env_file_is_ignored_and_the_example_is_committed() -> None:
    """Secrets live in .env, which git ignores."""
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert (ROOT / ".env.example").exists()
