"""Operations: what operators read. Reads the domain's records; never changes a job
(the audit trail is the one thing it writes).

    stats.py    one snapshot of queues, lanes, parked jobs, accounts and outcomes (`rtq stats`)
    metrics.py  the Prometheus exporter (`rtq metrics`)
    latency.py  how long jobs wait and take: the latency histogram, the oldest waiting jobs
    flower.py   Flower's command line, login and the task-sent events producers publish
    history.py  the last hour's outcomes, minute by minute (the console's chart)
    lookup.py   one (account, tweet) pair: known state, latest intent, claim, scheduled jobs
    audit.py    the audit trail of operator actions: record one, read them back (`rtq audit`)
"""
