"""Operations: what operators read. Reads the domain's records; never changes a job
(the audit trail is the one thing it writes).

    stats.py    one snapshot of queues, lanes, parked jobs, accounts and outcomes (`rtq stats`)
    metrics.py  the Prometheus exporter (`rtq metrics`)
    latency.py  how long jobs wait and take: the latency histogram, the oldest waiting jobs
    flower.py   Flower's command line, login and the task-sent events producers publish
    history.py  the last hour's outcomes, minute by minute (the console's chart)
    lookup.py   one (account, tweet) pair: known state and when, latest intent, claim,
                waiting and scheduled jobs, what holds it back (`rtq pair`)
    job_query.py  a listing's arguments, each error naming its argument
    finding.py  an account's jobs, newest first, paged, filtered, bounded (`rtq jobs`)
    waits.py    why a deferred job waits and until when, from where it waits
    audit.py    the audit trail of operator actions: record one, read them back (`rtq audit`)
"""
