"""The Lua scripts in worker/lua/, loaded once per Redis client."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import redis
from redis.commands.core import Script


@cache
def _source(name: str) -> str:
    return files("worker").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


class Scripts:
    """Registered scripts (EVALSHA with a transparent reload after a Redis restart)."""

    def __init__(self, client: redis.Redis) -> None:
        self.enqueue: Script = client.register_script(_source("enqueue"))
        self.begin: Script = client.register_script(_source("begin"))
        self.settle: Script = client.register_script(_source("settle"))
        self.move_due: Script = client.register_script(_source("move_due"))
        self.deliver: Script = client.register_script(_source("deliver"))
        self.observe: Script = client.register_script(_source("observe"))
        self.release: Script = client.register_script(_source("release"))
        self.release_held: Script = client.register_script(_source("release_held"))
        self.trim_dlq: Script = client.register_script(_source("trim_dlq"))

