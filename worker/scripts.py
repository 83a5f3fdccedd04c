"""The Lua scripts in worker/lua/, loaded once per Redis client."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import Any

import redis
from redis.commands.core import Script


@cache
def _source(name: str) -> str:
    return files("worker").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


class Scripts:
    """Registered scripts (EVALSHA with a transparent reload after a Redis restart).

    Called directly (`scripts.begin(keys=..., args=...)`), a script is one EVALSHA: redis-py
    loads it and retries only when Redis answers NOSCRIPT. On a pipeline, use `queue` and
    `execute` rather than `script(..., client=pipe)`: redis-py would send SCRIPT EXISTS before
    every such pipeline, one more round trip per job on the worker's hot path.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self.enqueue: Script = client.register_script(_source("enqueue"))
        self.begin: Script = client.register_script(_source("begin"))
        self.settle: Script = client.register_script(_source("settle"))
        self.move_due: Script = client.register_script(_source("move_due"))
        self.deliver: Script = client.register_script(_source("deliver"))
        self.observe: Script = client.register_script(_source("observe"))
        self.release: Script = client.register_script(_source("release"))
        self.release_held: Script = client.register_script(_source("release_held"))
        self.trim_dlq: Script = client.register_script(_source("trim_dlq"))

    @staticmethod
    def queue(pipe: Any, script: Script, keys: Sequence[Any], args: Sequence[Any]) -> None:
        """Queue `script` on a pipeline as a bare EVALSHA (run it with `execute`)."""
        pipe.evalsha(script.sha, len(keys), *keys, *args)

    def execute(self, pipe: Any) -> list[Any]:
        """`pipe.execute()` for a pipeline (transaction=False) holding queued scripts. If
        Redis lost the scripts (a restart, a failover, SCRIPT FLUSH), they are loaded and the
        commands that met NOSCRIPT run again, once, in their order; any other error raises as
        `pipe.execute()` would."""
        commands = list(pipe.command_stack)
        results: list[Any] = pipe.execute(raise_on_error=False)
        missing = [index for index, result in enumerate(results)
                   if isinstance(result, redis.exceptions.NoScriptError)]
        if missing:
            for script in vars(self).values():
                if isinstance(script, Script):
                    script.sha = self._client.script_load(script.script)
            for index in missing:
                args, options = commands[index]
                pipe.pipeline_execute_command(*args, **options)
            retried = pipe.execute(raise_on_error=False)
            for index, result in zip(missing, retried, strict=True):
                results[index] = result
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results
