"""The job domain: what happens to a job, in plain Python over Redis scripts. Never imports Celery.

    service.py        JobService: the story of a job (parse, begin, call X, settle), the one
                      path every delivery takes
    job.py            the job as the worker sees it: Job, Outcome, Progress, parse_job
    settling.py       writing what became of a delivery (settle.lua, dead letters, Sentry)
    scripts/          the Lua scripts (lua/) and the typed contract Python calls them through
    accounts.py       the encrypted credential store (Fernet), account meta and budgets
    account_info.py   what operators read of accounts: state, app, budgets, held jobs and why
    token_refresh.py  one OAuth 2.0 refresh at a time per account
    messages.py       Celery's task-message format, built without Celery (producers use it)
    lanes.py          the queue's fair lanes (fast, released, overflow)
    parking.py        the due-time store and the mover: retries, rate windows, scheduled jobs
    holds.py          held apps (credits, usage caps, permissions) and the circuit breaker
    pauses.py         an operator's pauses: everything, an account, a tweet (rtq pause)
    jobs.py           job records and their states
    job_index.py      each account's jobs in the order Redis accepted them (a stream), paged
    dlq.py            dead letters: add, list, show, replay, purge, caps
"""
