"""Operations: what operators read. Reads the domain's records; never changes a job.

    stats.py    one snapshot of queues, lanes, parked jobs, accounts and outcomes (`rtq stats`)
    metrics.py  the Prometheus exporter (`rtq metrics`)
    latency.py  how long jobs wait and take: the latency histogram, the oldest waiting jobs
    flower.py   Flower's command line, login and the task-sent events producers publish
"""
