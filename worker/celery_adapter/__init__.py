"""The Celery adapter: everything that knows Celery or kombu. Thin: it hands each delivery to
the domain's JobService and translates the outcome.

    app.py        the Celery app (`worker.app`, `celery -A worker`)
    config.py     Celery's settings, derived from rtq's Settings
    broker.py     the broker URL and transport options (Redis, Sentinel, TLS)
    transport.py  kombu's Redis transport with rtq's lanes and atomic delivery
    consumer.py   the consumer: an unreadable message is dead-lettered, never dropped
    intake.py     a raw message's first checks, before a task runs (malformed -> dead letter)
    tasks.py      `rtq.retweet` and `rtq.undo`: parse, call the service, report
    signals.py    worker start-up and shutdown (settings, logging, Sentry) and the mover step
    schedule.py   the event loop's timer schedule, without wake-ups for cancelled timers
    worker_output.py  what Celery prints outside logging, Sentry's Celery integration
    runtime.py    the per-process JobService and its connections
"""
