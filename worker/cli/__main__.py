"""`python -m worker.cli`: the same as `rtq`."""

from worker.cli import main

main()
