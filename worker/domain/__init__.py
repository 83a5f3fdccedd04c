"""The job domain: what happens to a job, in plain Python over Redis scripts. Never imports Celery.

    service.py        JobService: the story of a job (validate, claim, dedupe, budget, call X,
                      settle), the one path every delivery takes
    scripts.py        the Lua scripts (lua/) and how Python calls them
    accounts.py       the encrypted credential store (Fernet), account meta and budgets
    token_refresh.py  one OAuth 2.0 refresh at a time per account
    messages.py       Celery's task-message format, built without Celery (producers use it)
    lanes.py          the queue's fair lanes (fast, released, overflow)
    parking.py        the due-time store: retries, rate windows, scheduled intents
    jobs.py           job records and their states
    dlq.py            dead letters: add, list, show, replay, purge, caps
"""
