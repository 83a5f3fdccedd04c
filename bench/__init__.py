"""rtq's benchmark suite: `make bench` (= `python -m bench`) measures rtq against plain Celery
on one machine, in one run, and writes bench/results/. See bench/__main__.py for the options."""
