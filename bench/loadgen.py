"""Load generator for the emulator's capacity: an aiohttp client signing every request.

    python -m bench.loadgen URL CREDENTIALS_JSON SECONDS CONCURRENCY

Prints one JSON object: requests answered, seconds, statuses, and this process's CPU seconds.
Signing uses the emulator's own OAuth 1.0a module (HMAC-SHA1, a fresh nonce per request), so
each request passes the emulator's full check; a single process with many connections in flight.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from fake_x import oauth1


def authorization(method: str, uri: str, creds: dict[str, str]) -> str:
    params = {
        "oauth_consumer_key": creds["consumer_key"],
        "oauth_nonce": secrets.token_hex(16),
        "oauth_signature_method": oauth1.SIGNATURE_METHOD,
        "oauth_timestamp": str(int(time.time())),
        "oauth_token": creds["access_token"],
        "oauth_version": "1.0",
    }
    base = oauth1.signature_base_string(method, uri, params.items())
    params["oauth_signature"] = oauth1.hmac_sha1_signature(
        base, creds["consumer_secret"], creds["access_token_secret"])
    return "OAuth " + ", ".join(f'{oauth1.percent_encode(k)}="{oauth1.percent_encode(v)}"'
                                for k, v in sorted(params.items()))


async def load(url: str, accounts: list[dict[str, Any]], seconds: float,
               concurrency: int) -> dict[str, Any]:
    host = urlsplit(url).netloc
    statuses: Counter[int] = Counter()
    deadline = time.monotonic() + seconds
    counter = iter(range(10**15, 10**16))

    async def one_client(index: int, session: aiohttp.ClientSession) -> None:
        creds = accounts[index % len(accounts)]
        path = f"/2/users/{creds['user_id']}/retweets"
        uri = oauth1.base_string_uri("http", host, path)
        while time.monotonic() < deadline:
            headers = {"Authorization": authorization("POST", uri, creds)}
            body = {"tweet_id": str(next(counter))}
            async with session.post(url + path, json=body, headers=headers) as response:
                await response.read()
                statuses[response.status] += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        await asyncio.gather(*(one_client(i, session) for i in range(concurrency)))
        elapsed = time.monotonic() - started
    return {"requests": sum(statuses.values()), "seconds": elapsed,
            "statuses": {str(k): v for k, v in statuses.items()},
            "client_cpu_s": time.process_time()}


def main() -> None:
    url, creds_path, seconds, concurrency = sys.argv[1:5]
    with open(creds_path) as handle:
        accounts = json.load(handle)
    result = asyncio.run(load(url.rstrip("/"), accounts, float(seconds), int(concurrency)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
