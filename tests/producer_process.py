"""A producer process for the concurrency tests: enqueues random intents over given pairs.

    python -m tests.producer_process SEED COUNT PAIRS_JSON

Prints each job id as it is accepted. While Redis is unreachable, enqueue raises EnqueueError
and this caller retries, as a real application would.
"""

from __future__ import annotations

import json
import random
import sys
import time

from producers import EnqueueError, Producer


def main() -> None:
    seed, count, pairs_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    with open(pairs_path) as handle:
        pairs = [tuple(pair) for pair in json.load(handle)]
    rng = random.Random(seed)
    producer = Producer.from_settings()
    for _ in range(count):
        account_id, tweet_id = rng.choice(pairs)
        action = rng.choice(("retweet", "undo"))
        while True:
            try:
                job_id = producer.enqueue(action, account_id, tweet_id)
                break
            except EnqueueError:
                time.sleep(0.05)  # back off while Redis restarts
        print(job_id, flush=True)


if __name__ == "__main__":
    main()
