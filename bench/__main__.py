"""`python -m bench [SCENARIO ...] [--quick]`: run rtq's benchmarks and write the results.

    make bench                        # everything (about 10 minutes on 2 cores)
    python -m bench --quick           # smaller counts, a few minutes
    python -m bench overhead dedup    # some scenarios only
    python -m bench whatif            # the changes bench/patches/ proposes, measured
    python -m bench --list

Results go to bench/results/<name>.json and .md (name: `full`, `quick`, or the scenarios run).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback

from bench import report
from bench.context import Context
from bench.harness import stack

# Order matters a little: later scenarios reuse what earlier ones measured (e.g. the dedup
# path compares against the API-path rate the overhead scenario measured with the same setup).
SCENARIOS = {
    "emulator": ("bench.emulator", "the emulator's capacity, and the naive sequential loop"),
    "overhead": ("bench.overhead", "1+7: rtq vs plain Celery at 0 ms; Redis commands per job"),
    "throughput": ("bench.throughput", "2: pools and concurrency at 100 ms API latency"),
    "dedup": ("bench.dedup", "3: jobs whose known state already matches (no call)"),
    "enqueue": ("bench.enqueue", "4: bulk enqueue, CLI and Python, vs an apply_async loop"),
    "latency": ("bench.latency", "6: enqueue-to-call p50/p99 at a steady 200 jobs/s"),
    "memory": ("bench.memory", "5: Redis bytes per job; worker RSS over 100,000 jobs"),
    "ratelimit": ("bench.ratelimit", "issue 4: shortened windows, saturated accounts, parking"),
    "profile": ("bench.hotspots", "py-spy profile of a worker on the hot path"),
    "scrape": ("bench.scrape", "16: one metrics scrape: 10,000 accounts, 100,000 queued, parked"),
    "pausecpu": ("bench.pausecpu", "15: worker CPU with 10,000 paused jobs vs idle"),
    "finding": ("bench.finding", "16: rtq jobs / rtq pair with 1,000,000 job records vs 1,000"),
}
# Run only when named: measures the changes bench/patches/ proposes, not the product.
EXTRA = {
    "whatif": ("bench.whatif", "proposed product changes (bench/patches/) vs shipped, same run"),
    "compare": ("bench.compare", "the shipped tree vs BENCH_COMPARE_REF, same run"),
}
KNOWN = {**SCENARIOS, **EXTRA}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help=f"some of: {', '.join(KNOWN)} (default: all but "
                        f"{', '.join(EXTRA)})")
    parser.add_argument("--quick", action="store_true", help="smaller counts, fewer setups")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--name", help="results file name (default: full, quick, or the "
                        "scenarios run)")
    args = parser.parse_args(argv)
    if args.list:
        for name, (_, what) in KNOWN.items():
            print(f"{name:<11} {what}" + ("  [only when named]" if name in EXTRA else ""))
        return 0
    unknown = [s for s in args.scenarios if s not in KNOWN]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r} (one of: {', '.join(KNOWN)})")
    chosen = [s for s in KNOWN if s in args.scenarios] if args.scenarios else list(SCENARIOS)
    stem = args.name or ("quick" if args.quick else "full") if not args.scenarios \
        else args.name or "-".join(chosen) + ("-quick" if args.quick else "")
    results = report.Results(quick=args.quick, scenarios=chosen)
    info = report.machine()
    print(f"rtq bench ({'quick' if args.quick else 'full'}): {', '.join(chosen)}")
    print(f"machine: {info['cpu']}, {info['cores']} cores; load average "
          f"{' '.join(f'{x:.2f}' for x in info['load_average_at_start'])}", flush=True)
    with stack() as current:
        ctx = Context(current, results, args.quick)
        for name in chosen:
            module = importlib.import_module(KNOWN[name][0])
            print(f"\n== {name}: {KNOWN[name][1]}", flush=True)
            started = time.monotonic()
            try:
                module.run(ctx)
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                traceback.print_exc()
                results.errors[name] = f"{type(exc).__name__}: {exc}"
            results.durations[name] = time.monotonic() - started
            print(f"   ({results.durations[name]:.0f} s)", flush=True)
    json_path, md_path = report.write(results, stem, info)
    statuses = [f.status for f in results.figures]
    print(f"\n{statuses.count('PASS')} PASS, {statuses.count('MISS')} MISS, "
          f"{statuses.count('INFO')} INFO, {len(results.errors)} errors; "
          f"{time.time() - results.started:.0f} s")
    print(f"results: {md_path}\n         {json_path}")
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
