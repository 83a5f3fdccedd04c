"""The Lua scripts in worker/domain/lua/, loaded once per Redis client."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from importlib.resources import files
from typing import Any

import redis
from redis.backoff import EqualJitterBackoff
from redis.commands.core import Script
from redis.exceptions import NoScriptError
from redis.retry import Retry

# How the worker's per-job scripts ride out a lost connection (a Redis restart, a failover):
# ten more tries, waiting half to all of 0.2, 0.4, 0.8, then 1 s each time (4.2-8.4 s in
# all), then the error. A settle that never lands would cost its job a redelivery that waits
# out its own claim.
_SCRIPT_RETRY = Retry(EqualJitterBackoff(cap=1.0, base=0.1), retries=10)

# Shared functions travel in front of each script that uses them (Redis scripts cannot call one
# another): lanes.lua for the scripts that put messages in the queue's lanes, observe.lua (what
# X's answer says of the rate budgets) for settle.lua, index.lua (the account's job index) for
# the scripts that create job records, waits.lua (leaving every place a job waits) for cancel
# and expire.
_PRELUDES: dict[str, tuple[str, ...]] = {
    "enqueue": ("lanes", "index"), "move_due": ("lanes",), "release": ("lanes",),
    "release_held": ("lanes",), "release_app": ("lanes",), "settle": ("observe", "tally"),
    "begin": ("tally", "index"), "deliver": ("index",), "cancel": ("tally", "waits"),
    "expire": ("tally", "waits"),
}


def _read(name: str) -> str:
    return files("worker.domain").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


@cache
def _source(name: str) -> str:
    return "".join(_read(prelude) for prelude in _PRELUDES.get(name, ())) + _read(name)


class Scripts:
    """Registered scripts (EVALSHA with a transparent reload after a Redis restart).

    Called directly (`scripts.begin(keys=..., args=...)`), a script is one EVALSHA, loaded and
    run again only when Redis answers NOSCRIPT. The two a worker runs for every job (begin,
    settle) are `PackedScript`s: packed straight into the Redis protocol, which costs a job
    less CPU than redis-py's generic command path. (Not on a pipeline: redis-py would send
    SCRIPT EXISTS before every such pipeline, one more round trip.)
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self.enqueue = PackedScript(client, "enqueue")
        # The worker's two are retried on a lost connection; enqueue's never: a batch whose
        # reply was lost may have been recorded, and its producer is told instead.
        self.begin = PackedScript(client, "begin", retry=True)
        self.settle = PackedScript(client, "settle", retry=True)
        self.move_due: Script = client.register_script(_source("move_due"))
        self.deliver: Script = client.register_script(_source("deliver"))
        self.release: Script = client.register_script(_source("release"))
        self.release_held: Script = client.register_script(_source("release_held"))
        self.release_app: Script = client.register_script(_source("release_app"))
        self.resume: Script = client.register_script(_source("resume"))
        self.cancel: Script = client.register_script(_source("cancel"))
        self.trim_dlq: Script = client.register_script(_source("trim_dlq"))
        self.expire: Script = client.register_script(_source("expire"))


class PackedScript:
    """A script called as an EVALSHA packed straight into the Redis protocol, loading the
    script on NOSCRIPT (no SCRIPT EXISTS round trip). For enqueue.lua, called with many
    argument groups per call, redis-py's per-argument encoding costs more than the script
    itself; for begin.lua and settle.lua, run once each per job, its generic command path
    costs a worker more CPU than the packing.

    `session()` keeps one connection so that a caller can build its next call while Redis runs
    the one sent (send, build, receive): Python and Redis then work at the same time."""

    def __init__(self, client: redis.Redis, name: str, *, retry: bool = False) -> None:
        self._client = client
        self._retry = retry
        self.script = _source(name)
        self.sha = hashlib.sha1(self.script.encode(), usedforsecurity=False).hexdigest()

    def pack(self, keys: Sequence[str], args: Iterable[str | int | bool | None]) -> bytes:
        """The call in the Redis protocol; ARGV encoded as `contract.encode` says (None and
        False as '', True as '1', ints in decimal)."""
        parts = [b"EVALSHA", self.sha.encode(), b"%d" % len(keys)]
        parts += [k.encode() for k in keys]
        parts += [a.encode() if isinstance(a, str) else b"" if a is None or a is False
                  else b"1" if a is True else b"%d" % a for a in args]
        return b"".join([b"*%d\r\n" % len(parts),
                         *[b"$%d\r\n%s\r\n" % (len(part), part) for part in parts]])

    def __call__(self, keys: Sequence[str], args: Iterable[str | int | bool | None]) -> Any:
        """One call. With `retry`, a lost connection or a timeout is retried with backoff
        (`_SCRIPT_RETRY`), so a Redis restart costs the caller a wait rather than its job. A
        retried call may have run once already, its reply lost: begin.lua recognises its own
        claim token, and settle.lua writes the same outcome again (its counters count twice,
        the only trace)."""
        packed = self.pack(keys, args)

        def attempt() -> Any:
            # A connection from the pool each time: Redis may be away when the call starts.
            with self.session() as session:
                session.send(packed)
                return session.receive()

        if self._retry:
            return _SCRIPT_RETRY.call_with_retry(attempt, lambda _error: None)
        return attempt()

    @contextmanager
    def session(self) -> Iterator[ScriptSession]:
        pool = self._client.connection_pool
        connection = pool.get_connection()
        session = ScriptSession(self._client, connection, self.script)
        try:
            yield session
        finally:
            if session.pending is not None:
                # A reply nobody will read would answer the pool's next user: drop the socket.
                connection.disconnect()
            pool.release(connection)


class ScriptSession:
    """At most one call in flight on one connection (see PackedScript)."""

    def __init__(self, client: redis.Redis, connection: Any, source: str) -> None:
        self._client = client
        self._connection = connection
        self._source = source
        self.pending: bytes | None = None

    def send(self, packed: bytes) -> None:
        assert self.pending is None, "receive the call in flight first"
        self._connection.send_packed_command([packed])
        self.pending = packed

    def receive(self) -> Any:
        packed = self.pending
        assert packed is not None, "nothing sent"
        try:
            try:
                reply = self._connection.read_response()
            except NoScriptError:
                # A restarted or flushed Redis: load the script and run this call again
                # (nothing else was sent on this connection since, so the order is kept).
                self._client.script_load(self._source)
                self._connection.send_packed_command([packed])
                reply = self._connection.read_response()
        except redis.ResponseError:
            self.pending = None  # an error reply is a whole reply: nothing more is coming
            raise
        # Any other error (a timeout, a lost connection, Ctrl-C) leaves `pending` set: the reply
        # may still arrive, so session() drops the connection rather than pool it (a Sentinel
        # connection does not disconnect itself on a read error).
        self.pending = None
        return reply
