"""kombu's Redis transport, guarded against entries that are not kombu messages.

kombu parses each entry it pops from the queue list with `json.loads`; on anything else the
exception escapes into Celery's event loop and the worker exits ("Unrecoverable error"), and the
entry is already gone from Redis. Here such an entry becomes a placeholder message with a content
type nothing accepts, so it flows to our consumer's `on_decode_error` and the dead-letter queue,
and the worker goes on serving. The entry's bytes are not kept (they may hold anything).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport.virtual import Empty
from kombu.utils.encoding import bytes_to_str

from worker.intake import note_delivery

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


class GuardedChannel(kombu_redis.Channel):  # type: ignore[misc]
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
                note_delivery(message)
                self.connection._deliver(message, dest)
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
