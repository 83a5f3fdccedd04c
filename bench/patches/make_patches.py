"""Regenerate the proposed product changes (bench/patches/*.diff) against the current tree.

    python bench/patches/make_patches.py

The tree moves while these proposals wait, so each change is written as a few anchored edits
and the diffs are made fresh (those in CHANGES apply in order; E on its own). An edit whose anchor
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
    x_client = tree / "worker/x_client.py"
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


def release_to_low_priority(tree: Path) -> None:
    """E: jobs a rate window lets out go to the queue's lowest-priority list, which workers
    BRPOP after the queue itself: a window's release never delays an idle account's job."""
    parking, release = tree / "worker/parking.py", tree / "worker/lua/release.lua"
    edit(parking, r"^class Mover:", lambda _: '''def released_queue(queue: str) -> str:
    """kombu's lowest-priority list of `queue` (priority 9: "<queue>\\\\x06\\\\x169"). Workers
    BRPOP it after the queue itself, so jobs let out by a rate window never stand in front of
    fresh jobs of idle accounts; they run as soon as nothing newer waits."""
    return f"{queue}\\x06\\x169"


class Mover:''')
    edit(parking, r"(self\._scripts\.release\(\n\s*keys=\[self\._keys\.groups, "
         r"self\._keys\.parked_messages, )self\._queue\]",
         lambda m: m.group(1) + "released_queue(self._queue)]")
    edit(release, r"-- KEYS: 1 groups, 2 parked messages, 3 queue\n",
         "-- KEYS: 1 groups, 2 parked messages, 3 the queue's lowest-priority list\n")
    edit(release, r"-- To the head of the queue: these jobs have waited their turn already\.\n"
         r"(\s*)redis\.call\('RPUSH', KEYS\[3\], message\)", lambda m: (
             "-- To the queue's lowest-priority list (FIFO): workers take these jobs when\n"
             f"{m.group(1)}-- no fresh job waits, so a release never delays an idle account.\n"
             f"{m.group(1)}redis.call('LPUSH', KEYS[3], message)"))


# A (settle's bare EVALSHAs), B (credentials returned by begin.lua) and C (deliver.lua in
# kombu's MULTI) shipped in the worker; D shipped in commit 2ccb8b2 (a no-op kept as a check).
CHANGES = (
    ("D-environment-once.diff", environment_read_once),
)
ALONE = (("E-release-low-priority.diff", release_to_low_priority),)


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
        for name, change in ALONE:
            current = Path(work) / name
            snapshot(base, current)
            change(current)
            diff(base, current, name)


if __name__ == "__main__":
    main()
