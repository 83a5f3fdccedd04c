"""Figures, the machine they were measured on, and the JSON + Markdown the run writes.

Every figure carries its target (or none) and is judged here, in one place: PASS, MISS, or INFO
for figures that have no target and are reported for context.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    """One measured number. `op` is how it meets `target`: ">=", "<=", "<", or "" (no target)."""

    scenario: str
    name: str
    value: float | None
    unit: str
    op: str = ""
    target: float | None = None
    note: str = ""

    @property
    def status(self) -> str:
        if not self.op or self.target is None:
            return "INFO"
        if self.value is None:
            return "MISS"
        ok = {">=": self.value >= self.target, "<=": self.value <= self.target,
              "<": self.value < self.target, ">": self.value > self.target}[self.op]
        return "PASS" if ok else "MISS"

    def target_text(self) -> str:
        if not self.op or self.target is None:
            return ""
        return f"{self.op} {fmt(self.target)} {self.unit}".strip()

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["status"] = self.status
        return document


def fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


@dataclass
class Results:
    """What one `python -m bench` run found."""

    started: float = field(default_factory=time.time)
    quick: bool = False
    scenarios: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(f"  {figure.status:<4}  {figure.name}: {fmt(figure.value)} {figure.unit}"
              + (f"  (target {figure.target_text()})" if figure.target_text() else "")
              + (f"  [{figure.note}]" if figure.note else ""), flush=True)
        return figure

    def detail(self, scenario: str, key: str, value: Any) -> None:
        self.details.setdefault(scenario, {})[key] = value


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass
    versions = {}
    for package in ("retweet-queue", "celery", "kombu", "redis", "requests", "requests-oauthlib",
                    "oauthlib", "aiohttp", "gevent", "py-spy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    redis_server = shutil.which("redis-server") or ""
    redis_version = ""
    if redis_server:
        out = subprocess.run([redis_server, "--version"], capture_output=True, text=True,
                             check=False).stdout
        redis_version = next((p.split("=", 1)[1] for p in out.split() if p.startswith("v=")), out)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False, cwd=Path(__file__).resolve().parent.parent)
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "kernel": platform.release(), "python": platform.python_version(),
        "redis_server": redis_version, "versions": versions,
        "commit": commit.stdout.strip() or None,
        "load_average_at_start": list(os.getloadavg()),
    }


def write(results: Results, stem: str, info: dict[str, Any]) -> tuple[Path, Path]:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    info = {**info, "load_average_at_end": list(os.getloadavg())}
    document = {
        "date": datetime.fromtimestamp(results.started, UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - results.started, 1),
        "quick": results.quick,
        "scenarios": results.scenarios,
        "machine": info,
        "figures": [f.as_dict() for f in results.figures],
        "scenario_durations_s": {k: round(v, 1) for k, v in results.durations.items()},
        "errors": results.errors,
        "details": results.details,
    }
    json_path = RESULTS_DIR / f"{stem}.json"
    md_path = RESULTS_DIR / f"{stem}.md"
    json_path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    md_path.write_text(markdown(document))
    return json_path, md_path


def markdown(document: dict[str, Any]) -> str:
    info = document["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v)
    lines = [
        f"# rtq benchmark ({'quick' if document['quick'] else 'full'} run)",
        "",
        f"- date: {document['date']} ({document['duration_s']:.0f} s)",
        f"- machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB, "
        f"Linux {info['kernel']}",
        f"- load average at start / end: "
        f"{' '.join(f'{x:.2f}' for x in info['load_average_at_start'])} / "
        f"{' '.join(f'{x:.2f}' for x in info['load_average_at_end'])} "
        "(other processes share this machine: compare ratios, not absolute numbers)",
        f"- Python {info['python']}, redis-server {info['redis_server']}, {versions}",
        f"- commit: {info['commit']}",
        f"- scenarios: {', '.join(document['scenarios'])}",
        "",
        "| scenario | figure | value | target | status | note |",
        "|---|---|---:|---|---|---|",
    ]
    for figure in document["figures"]:
        target = ""
        if figure["op"] and figure["target"] is not None:
            target = f"{figure['op']} {fmt(figure['target'])}"
        lines.append(
            f"| {figure['scenario']} | {figure['name']} | {fmt(figure['value'])} "
            f"{figure['unit']} | {target} | {figure['status']} | {figure['note']} |"
        )
    if document["errors"]:
        lines += ["", "## Errors", ""]
        lines += [f"- {name}: {error}" for name, error in document["errors"].items()]
    profile = document["details"].get("profile", {})
    if profile.get("hot_spots"):
        lines += ["", "## Where the worker's CPU goes (py-spy)", "", profile.get("setup", ""), ""]
        for process, rows in profile["hot_spots"].items():
            lines += [f"### {process}", "", "| share | CPU per job | category |",
                      "|---:|---:|---|"]
            lines += [f"| {row['share'] * 100:.1f}% | {row['ms_per_job']:.3f} ms | "
                      f"{row['frame']} |" for row in rows]
            lines.append("")
    lines.append("")
    return "\n".join(lines)
