"""Run the emulator app on a socket until SIGTERM or SIGINT, then shut down cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable

from aiohttp import web

# Hung requests (fault injection) must not hold up a shutdown for long.
SHUTDOWN_TIMEOUT_S = 0.5


class _RedactParserErrors(logging.Filter):
    """aiohttp logs a malformed request with its parse error, which can quote raw request
    bytes (an Authorization header among them). Keep the event, drop the details."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = "fake_x: rejected a malformed request (details withheld: may hold secrets)"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        return True


def base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(
    app: web.Application, host: str, port: int, on_ready: Callable[[str], None]
) -> None:
    """Bind, call `on_ready(base_url)` once listening, serve until a stop signal arrives."""
    # No access log: one formatted line per request would cost more than the request itself.
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _RedactParserErrors) for f in server_log.filters):
        server_log.addFilter(_RedactParserErrors())
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        on_ready(base_url(bound_host, bound_port))
        await stop.wait()
        print("fake_x: stopping", file=sys.stderr, flush=True)
    finally:
        await runner.cleanup()
