"""Regenerate the proposed product changes (bench/patches/*.diff) against the current tree.

    python bench/patches/make_patches.py

The tree moves while these proposals wait, so each change is written as a few anchored edits
and the diffs are made fresh (those in CHANGES apply in order). An edit whose anchor
is gone stops with the anchor named. Nothing in the repository is modified: the edits happen in
a temporary copy.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def edit(path: Path, pattern: str, replacement: str | Callable[[re.Match[str]], str],
         count: int = 1) -> None:
    text = path.read_text()
    new, found = re.subn(pattern, replacement, text, flags=re.MULTILINE | re.DOTALL)
    if found != count:
        sys.exit(f"{path.name}: expected {count} match(es) of {pattern!r}, found {found}")
    path.write_text(new)


def environment_read_once(tree: Path) -> None:
    """D: the X session reads proxies and the CA bundle from the environment once, when it is
    made. With `trust_env` on (requests' default), every call scans every environment variable
    for proxy settings (`merge_environment_settings` -> `get_environ_proxies`)."""
    x_client = tree / "worker/x_api/client.py"
    if "trust_env = False" in x_client.read_text():
        return  # applied already (commit 2ccb8b2)
    edit(x_client, r"(\n( +)session = requests\.Session\(\)\n)", lambda m: m.group(1) + (
        f"{m.group(2)}# Read the environment once here, not on every call (requests scans "
        "every\n"
        f"{m.group(2)}# environment variable for proxies per request while trust_env is on).\n"
        f"{m.group(2)}session.proxies = requests.utils.get_environ_proxies(self._base_url)\n"
        f"{m.group(2)}bundle = os.environ.get(\"REQUESTS_CA_BUNDLE\") or os.environ.get(\n"
        f"{m.group(2)}    \"CURL_CA_BUNDLE\")\n"
        f"{m.group(2)}if bundle:\n"
        f"{m.group(2)}    session.verify = bundle\n"
        f"{m.group(2)}session.trust_env = False\n"))


# A (settle's bare EVALSHAs), B (credentials returned by begin.lua) and C (deliver.lua in
# kombu's MULTI) shipped in the worker, E (released jobs behind fresh ones) with the fair lanes
# (worker/domain/lanes.py); D shipped in commit 2ccb8b2 (a no-op kept as a check).
CHANGES = (
    ("D-environment-once.diff", environment_read_once),
)


def snapshot(tree: Path, to: Path) -> None:
    if to.exists():
        shutil.rmtree(to)
    shutil.copytree(tree, to, ignore=shutil.ignore_patterns("__pycache__", "*.rej", "*.orig"))


def diff(before: Path, after: Path, name: str) -> None:
    done = subprocess.run(["diff", "-ru", before.name, after.name], cwd=before.parent,
                          capture_output=True, text=True, check=False)
    lines: list[str] = []
    headers = 0
    for line in done.stdout.splitlines():
        if line.startswith("diff -ru "):
            headers = 2  # the next two lines name the files (a Lua comment may start "--- ")
            continue
        if headers:
            headers -= 1
            marker, path = line[:4], line[4:].split("\t", 1)[0]
            lines.append(marker + ("a/" if marker == "--- " else "b/") + path.split("/", 1)[1])
        else:
            lines.append(line)
    if not lines:
        (HERE / name).unlink(missing_ok=True)
        print(f"{name}: nothing to change (applied already)")
        return
    (HERE / name).write_text("\n".join(lines) + "\n")
    print(f"{name}: {len(lines)} lines")


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        base = Path(work) / "base"
        base.mkdir()
        for package in ("worker", "producers"):
            shutil.copytree(ROOT / package, base / package,
                            ignore=shutil.ignore_patterns("__pycache__"))
        previous = base
        for index, (name, change) in enumerate(CHANGES):
            current = Path(work) / f"step{index}"
            snapshot(previous, current)
            change(current)
            diff(previous, current, name)
            previous = current


if __name__ == "__main__":
    main()
