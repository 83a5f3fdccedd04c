"""What every other part stands on; imports nothing else of rtq's.

    settings.py       Settings, read once from the environment into a frozen object
    env.py            typed readers of environment variables (errors name the variable)
    redis_client.py   Redis clients (URL, Sentinel, TLS) with bounded timeouts
    redis_urls.py     the sentinel:// form parsed, and URLs redacted for messages and logs
    keys.py           the Redis key schema: every key rtq writes, under one prefix
    ids.py            account and tweet ids, tweet URLs
    clock.py          wall-clock milliseconds (one place tests and scripts agree on)
    durations.py      durations as people write them (15m, 1d12h): max_delay, RTQ_JOB_MAX_DELAY
    errors.py         the exception tree that decides retry, park or dead letter
    observability.py  log formatting and scrubbing, Sentry set-up and events
    logins.py         who may use `rtq api` and `rtq web`: tokens and basic-auth logins, scopes
"""
