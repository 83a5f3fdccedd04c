"""Regenerate the proposed product changes (bench/patches/*.diff) against the current tree.

    python bench/patches/make_patches.py

The tree moves while these proposals wait, so each change is written as a few anchored edits
and the diffs are made fresh (A to D apply in that order; those in ALONE on their own). An
edit whose anchor is gone stops with the anchor named. Nothing in the repository is modified:
the edits happen in a temporary copy.
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


def settle_without_script_exists(tree: Path) -> None:
    """A: the settle pipeline sends bare EVALSHAs (redis-py adds SCRIPT EXISTS, one more round
    trip, before every pipeline that holds a Script object); NOSCRIPT reloads and reruns."""
    scripts, service = tree / "worker/scripts.py", tree / "worker/service.py"
    edit(scripts, r"^(from importlib\.resources import files\n)", r"\1from typing import Any\n")
    edit(scripts, r"(\n        self\.\w+: Script = client\.register_script\(_source\(\"\w+\"\)\)\n)"
         r"(?!        self\.\w+: Script)", lambda m: m.group(1) + '''        self._client = client

    @staticmethod
    def queue(pipe: Any, script: Script, keys: list[Any], args: list[Any]) -> None:
        """Queue `script` on a pipeline as a bare EVALSHA. (`script(..., client=pipe)` makes
        redis-py send SCRIPT EXISTS before the pipeline: one more round trip per job.)"""
        pipe.evalsha(script.sha, len(keys), *keys, *args)

    def execute(self, pipe: Any) -> list[Any]:
        """`pipe.execute()`; a script Redis no longer has (it restarted) is loaded and only
        the commands that met NOSCRIPT run again."""
        commands = list(pipe.command_stack)
        results: list[Any] = pipe.execute(raise_on_error=False)
        missing = [i for i, r in enumerate(results)
                   if isinstance(r, redis.exceptions.NoScriptError)]
        if missing:
            for script in vars(self).values():
                if isinstance(script, Script):
                    script.sha = self._client.script_load(script.script)
            for i in missing:
                args, options = commands[i]
                pipe.pipeline_execute_command(*args, **options)
            for i, result in zip(missing, pipe.execute(raise_on_error=False), strict=True):
                results[i] = result
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results
''')
    for name in ("settle", "observe"):
        edit(service, rf"self\._scripts\.{name}\(\n(.*?)\n\s*client=pipe,\n",
             lambda m, n=name: f"self._scripts.queue(\n            pipe, self._scripts.{n},\n"
             f"{m.group(1)}\n")
    edit(service, r"results = pipe\.execute\(\)", "results = self._scripts.execute(pipe)")


def credentials_from_begin(tree: Path) -> None:
    """B: begin.lua returns the account's sealed credentials with a 'go' verdict, so the worker
    does not ask Redis for them in a round trip of their own (HGET rtq:accounts)."""
    begin, service = tree / "worker/lua/begin.lua", tree / "worker/service.py"
    accounts = tree / "worker/accounts.py"
    edit(begin, r"(return \{'go',.*?redis\.call\('HGET', job, 'history'\) or '\[\]')\}\s*$",
         lambda m: "-- The account's sealed credentials (the last key is the accounts hash) come "
         "with the\n-- claim: the worker needs no round trip of its own for them.\n"
         + m.group(1) + ",\n  redis.call('HGET', KEYS[#KEYS], ARGV[3]) or ''}\n")
    edit(service, r"(verdict = self\._scripts\.begin\(\n\s*keys=\[\n.*?)(\n\s*\],\n\s*args=)",
         lambda m: m.group(1) + "\n                keys.accounts,  # last: begin.lua reads it "
         "as KEYS[#KEYS]" + m.group(2))
    edit(service, r"return self\._call\(job, progress\)",
         "return self._call(job, progress, verdict[-1] or None)")
    edit(service, r"def _call\(self, job: Job, progress: _Progress\) ->",
         "def _call(self, job: Job, progress: _Progress, sealed: str | None\n              ) ->")
    edit(service, r"self\._accounts\.get\(job\.account_id\)",
         "self._accounts.unseal(job.account_id, sealed)")
    edit(accounts, r"(    def get\(self, account_id: str\) -> ([^\n]*):\n)"
         r"        token = self\._redis\.hget\(self\._keys\.accounts, account_id\)\n",
         lambda m: m.group(1) + "        return self.unseal(account_id, "
         "self._redis.hget(self._keys.accounts, account_id))\n\n"
         f"    def unseal(self, account_id: str, token: str | None) -> {m.group(2)}:\n"
         '        """The credentials sealed in `token` (the account\'s entry in the accounts '
         'hash,\n        read by the caller, e.g. begin.lua); decrypted once per process and '
         'cached."""\n')


def deliver_in_kombu_multi(tree: Path) -> None:
    """C: deliver.lua runs inside the MULTI kombu sends anyway for its unacked bookkeeping, so
    noting a delivery costs the worker's main process no round trip of its own."""
    intake, transport = tree / "worker/intake.py", tree / "worker/transport.py"
    edit(intake, r'(def note_delivery\(message: dict\[str, Any\]\) -> None:\n    """.*?""")\n'
         r"    try:\n", lambda m: m.group(1) + '''
    call = delivery_call(message)
    if call is None:
        return
    keys, args = call
    try:
        _context()[1].deliver(keys=keys, args=args)
    except redis.RedisError as exc:
        # begin.lua registers the message instead, at the price of ordering it by receipt.
        log.warning("could not note a delivery (%s)", type(exc).__name__)


def delivery_call(message: dict[str, Any]) -> tuple[list[str], list[Any]] | None:
    """deliver.lua's keys and arguments for a message, or None if it is not one of ours to
    note (the transport runs it in the same MULTI as kombu's unacked bookkeeping)."""
    try:
''')
    edit(intake, r"(len\(job_id\) > 128:\n\s*)return\n", r"\1return None\n")
    edit(intake, r"(body\[0\]:\n\s*)return\n", r"\1return None\n")
    edit(intake, r"(except \(InvalidId, ValueError, TypeError, KeyError, AttributeError\):\n"
         r"\s*)return\n    try:\n.*?log\.warning\(\"could not note a delivery \(%s\)\", "
         r"type\(exc\)\.__name__\)\n", lambda m: m.group(1) + '''return None
    keys, _, ttl = _context()
    return ([keys.job(job_id), keys.intent(account_id, tweet_id), keys.seq,
             keys.lane_count(account_id)],
            [job_id, action, account_id, tweet_id, clock.now_iso(), ttl, keys.job("")])


def deliver_script() -> str:
    """deliver.lua's source, for EVAL inside kombu's MULTI (no NOSCRIPT can break it)."""
    return str(_context()[1].deliver.script)
''')
    edit(transport, r"^import json\n", "import json\nimport logging\nimport time\n")
    edit(transport, r"^from kombu\.transport\.virtual import Empty\n",
         "from kombu.transport.virtual import Empty\n"
         "from kombu.transport.virtual import QoS as VirtualQoS\n")
    edit(transport, r"^from worker\.intake import note_delivery\n",
         "from worker.intake import deliver_script, delivery_call, note_delivery\n\n"
         'log = logging.getLogger("rtq.worker")\n')
    edit(transport, r"^class GuardedChannel\(kombu_redis\.Channel\):  # type: ignore\[misc\]\n",
         '''class DeliveringQoS(kombu_redis.QoS):  # type: ignore[misc]
    """kombu's unacked bookkeeping (ZADD + HSET in one MULTI) with deliver.lua for the same
    message in that MULTI: noting a delivery costs no round trip of its own."""

    def append(self, message: Any, delivery_tag: str) -> None:
        call = self.channel.pending_deliveries.pop(delivery_tag, None)
        if call is None:
            super().append(message, delivery_tag)
            return
        delivery = message.delivery_info
        keys, args = call
        with self.pipe_or_acquire() as pipe:
            pipe.zadd(self.unacked_index_key, {delivery_tag: time.time()})
            pipe.hset(self.unacked_key, delivery_tag, json.dumps(
                [message._raw, delivery["exchange"], delivery["routing_key"]]))
            pipe.eval(deliver_script(), len(keys), *keys, *args)
            results = pipe.execute(raise_on_error=False)
            for result in results[:2]:
                if isinstance(result, Exception):
                    raise result
            if isinstance(results[2], Exception):
                # begin.lua registers the message instead, ordering it by receipt.
                log.warning("could not note a delivery (%s)", type(results[2]).__name__)
            VirtualQoS.append(self, message, delivery_tag)


class GuardedChannel(kombu_redis.Channel):  # type: ignore[misc]
    QoS = DeliveringQoS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # delivery tag -> deliver.lua's keys and arguments, until QoS.append runs them
        self.pending_deliveries: dict[str, tuple[list[str], list[Any]]] = {}
        super().__init__(*args, **kwargs)

''')
    edit(transport, r"( +)message = read_entry\(item, dest\)\n\s*note_delivery\(message\)\n"
         r"\s*self\.connection\._deliver\(message, dest\)\n", lambda m: (
             f"{m.group(1)}message = read_entry(item, dest)\n"
             f"{m.group(1)}call = delivery_call(message)\n"
             f"{m.group(1)}tag = message[\"properties\"].get(\"delivery_tag\")\n"
             f"{m.group(1)}if call is not None and isinstance(tag, str):\n"
             f"{m.group(1)}    self.pending_deliveries[tag] = call\n"
             f"{m.group(1)}try:\n"
             f"{m.group(1)}    self.connection._deliver(message, dest)\n"
             f"{m.group(1)}finally:\n"
             f"{m.group(1)}    # Not taken by QoS.append (a consumer without acks): note it "
             "directly.\n"
             f"{m.group(1)}    if call is not None and tag in self.pending_deliveries:\n"
             f"{m.group(1)}        del self.pending_deliveries[tag]\n"
             f"{m.group(1)}        note_delivery(message)\n"))


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


CHANGES = (
    ("A-settle-evalsha.diff", settle_without_script_exists),
    ("B-credentials-in-begin.diff", credentials_from_begin),
    ("C-deliver-in-qos.diff", deliver_in_kombu_multi),
    ("D-environment-once.diff", environment_read_once),
)
# Changes measured on their own against the current tree (none now: E, released jobs on a
# low-priority list, shipped as part of the fair lanes, worker/lanes.py).
ALONE: tuple[tuple[str, Callable[[Path], None]], ...] = ()


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
