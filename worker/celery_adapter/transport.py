"""kombu's Redis transport, guarded against entries that are not kombu messages.

kombu parses each entry it pops from the queue list with `json.loads`; on anything else the
exception escapes into Celery's event loop and the worker exits ("Unrecoverable error"), and the
entry is already gone from Redis. Here such an entry becomes a placeholder message with a content
type nothing accepts, so it flows to our consumer's `on_decode_error` and the dead-letter queue,
and the worker goes on serving. The entry's bytes are not kept (they may hold anything).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import redis
from kombu.transport import redis as kombu_redis
from kombu.transport.virtual import Empty
from kombu.transport.virtual import QoS as VirtualQoS
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps

from worker.celery_adapter.intake import (
    deliver_script,
    delivery_call,
    note_delivery,
    warn_undelivered,
)

UNREADABLE_CONTENT_TYPE = "application/x-rtq-unreadable"
UNREADABLE_HEADER = "x-rtq-unreadable"


def _placeholder(queue: str, problem: str) -> dict[str, Any]:
    return {
        "body": "",
        "content-type": UNREADABLE_CONTENT_TYPE,
        "content-encoding": "utf-8",
        "headers": {UNREADABLE_HEADER: problem},
        "properties": {
            "delivery_tag": str(uuid.uuid4()),
            "delivery_info": {"exchange": "", "routing_key": queue},
            "body_encoding": "base64",
            "delivery_mode": 2,
            "priority": 0,
        },
    }


def read_entry(item: bytes | str, queue: str) -> dict[str, Any]:
    """The kombu message in a queue entry, or a placeholder saying why there is none."""
    try:
        message = json.loads(bytes_to_str(item))
    except (ValueError, UnicodeDecodeError):
        return _placeholder(queue, "the queue entry is not JSON")
    if not isinstance(message, dict) or not isinstance(message.get("properties"), dict):
        return _placeholder(queue, "the queue entry is not a kombu message")
    return message


class DeliveringQoS(kombu_redis.QoS):  # type: ignore[misc]
    """kombu's unacked bookkeeping (ZADD + HSET in one MULTI), with deliver.lua for the same
    message queued in that MULTI: noting a delivery costs no round trip of its own. kombu
    calls `append` as it hands the message to Celery, before the task can reach a pool
    process, so deliver.lua still runs before begin.lua, as when it ran on its own."""

    def append(self, message: Any, delivery_tag: str) -> None:
        call = self.channel.take_delivery(delivery_tag)
        if call is None:
            super().append(message, delivery_tag)
            return
        keys, args = call
        # kombu's prefixed client (RTQ_KEY_PREFIX set) adds its global_keyprefix to the first
        # key of an EVALSHA; that prefix is "<RTQ_KEY_PREFIX>:", which our keys already carry
        # (GuardedChannel._hold_delivery checked).
        prefix = self.channel.global_keyprefix or ""
        first = keys[0][len(prefix):]
        delivery = message.delivery_info
        script = deliver_script()
        with self.pipe_or_acquire() as pipe:
            pipe.zadd(self.unacked_index_key, {delivery_tag: time.time()})
            pipe.hset(self.unacked_key, delivery_tag,
                      dumps([message._raw, delivery["exchange"], delivery["routing_key"]]))
            pipe.evalsha(script.sha, len(keys), first, *keys[1:], *args)
            unacked_index, unacked, noted = pipe.execute(raise_on_error=False)
        for result in (unacked_index, unacked):
            if isinstance(result, Exception):
                raise result  # as kombu's own append would
        if isinstance(noted, redis.exceptions.NoScriptError):
            # Redis lost the script (restart, failover): our own client loads it again.
            try:
                script(keys=keys, args=args)
            except redis.RedisError as exc:
                warn_undelivered(exc)
        elif isinstance(noted, Exception):
            warn_undelivered(noted)
        VirtualQoS.append(self, message, delivery_tag)


class GuardedChannel(kombu_redis.Channel):  # type: ignore[misc]
    QoS = DeliveringQoS
    # The delivery being handed to Celery, and deliver.lua's keys and arguments for it, until
    # DeliveringQoS.append runs them.
    _pending: tuple[str, tuple[list[str], list[Any]]] | None = None

    def take_delivery(self, delivery_tag: str) -> tuple[list[str], list[Any]] | None:
        pending = self._pending
        if pending is None or pending[0] != delivery_tag:
            return None
        self._pending = None
        return pending[1]

    def _hold_delivery(self, message: dict[str, Any]) -> bool:
        """Keep deliver.lua's call for `message` for DeliveringQoS.append; False if it must
        be run on its own (not one of ours to note, or keys kombu would rewrite)."""
        call = delivery_call(message)
        tag = message["properties"].get("delivery_tag")
        if call is None or not isinstance(tag, str):
            return False
        # kombu's client will add its key prefix to the first key (DeliveringQoS.append).
        if not call[0][0].startswith(self.global_keyprefix or ""):
            return False
        self._pending = (tag, call)
        return True

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            # kombu closes a connection's transport (client = None) before every channel of it
            # is done: when Redis goes away, Celery can close such a channel late, and its
            # restore of unacked messages would fail here with AttributeError, which Celery
            # takes for an unrecoverable error (the worker exits). Without a connection there
            # is no Redis: say so, Celery reconnects, and the unacked messages come back with
            # the visibility timeout.
            raise redis.exceptions.ConnectionError("the channel's connection is closed")
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)
        return params

    def _brpop_read(self, **options: Any) -> bool:
        try:
            try:
                dest__item = self.client.parse_response(
                    self.client.connection, "BRPOP", **options
                )
            except self.connection_errors:
                self.client.connection.disconnect()
                raise
            if dest__item:
                dest, item = dest__item
                dest = bytes_to_str(dest).rsplit(self.sep, 1)[0]
                self._queue_cycle.rotate(dest)
                message = read_entry(item, dest)
                if not self._hold_delivery(message):
                    note_delivery(message)
                    self.connection._deliver(message, dest)
                    return True
                try:
                    self.connection._deliver(message, dest)
                finally:
                    if self._pending is not None:
                        # QoS.append did not take it (a consumer without acks, or an error
                        # before it): note the delivery on its own, as before.
                        self._pending = None
                        note_delivery(message)
                return True
            raise Empty()
        finally:
            self._in_poll = None  # type: ignore[assignment]
            flush = getattr(self, "_flush_brpop_reauth", None)
            if flush is not None:
                flush()

    def _get(self, queue: str, timeout: Any = None) -> dict[str, Any]:
        with self.conn_or_acquire() as client:
            for pri in self.priority_steps:
                item = client.rpop(self._q_for_pri(queue, pri))
                if item:
                    message = read_entry(item, queue)
                    note_delivery(message)
                    return message
            raise Empty()


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = GuardedChannel
