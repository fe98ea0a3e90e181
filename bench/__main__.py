"""Run the benchmark suite and publish its figures.

    .venv/bin/python -m bench                   # everything, full sizes (~30 min on 2 busy cores)
    .venv/bin/python -m bench --quick           # everything, small sizes (~10 min there)
    .venv/bin/python -m bench --only load --only exports

Writes the raw figures to `bench/results/latest.json` and replaces the generated table between
`<!-- bench:begin -->` and `<!-- bench:end -->` in docs/performance.md. With `--only`, the
other benchmarks' rows are kept from the previous JSON and labelled with their own run.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    bench_assignment,
    bench_disbursements,
    bench_exports,
    bench_load,
    bench_ranking,
    bench_upload,
)
from bench.report import ROWS, figures, machine, render, replace_region, write_json

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "latest.json"
PERFORMANCE = REPO / "docs" / "performance.md"


@dataclass(frozen=True)
class Benchmark:
    name: str
    run: Callable[..., Any]
    full: dict[str, Any]
    quick: dict[str, Any]


BENCHMARKS = [
    Benchmark("upload", bench_upload.run, {"size_mb": 200, "runs": 3}, {"size_mb": 16, "runs": 1}),
    Benchmark(
        "assignment",
        bench_assignment.run,
        {"applications": 2000, "reviewers": 60, "runs": 5},
        {"applications": 500, "reviewers": 20, "runs": 2},
    ),
    Benchmark(
        "ranking",
        bench_ranking.run,
        {"applications": 10_000, "reviews_each": 3, "runs": 5},
        {"applications": 1000, "reviews_each": 3, "runs": 2},
    ),
    Benchmark(
        "disbursements",
        bench_disbursements.run,
        {"requests": 1000, "clients": 16, "awards": 5},
        {"requests": 200, "clients": 8, "awards": 1},
    ),
    Benchmark("exports", bench_exports.run, {"rows": 100_000}, {"rows": 5000}),
    Benchmark(
        "load",
        bench_load.run,
        {"duration": 60, "warmup": 5, "clients": 16, "workers": 4, "ngos": 12},
        {"duration": 8, "warmup": 2, "clients": 8, "workers": 4, "ngos": 4},
    ),
]
NAMES = [b.name for b in BENCHMARKS]


def _previous() -> dict[str, Any]:
    try:
        return dict(json.loads(RESULTS.read_text())["benchmarks"])
    except (FileNotFoundError, KeyError, json.JSONDecodeError):
        return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--only", action="append", choices=NAMES, metavar="NAME", help=f"one of {', '.join(NAMES)}"
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave the JSON and the docs alone"
    )
    args = parser.parse_args(argv)
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    command = shlex.join([".venv/bin/python", "-m", "bench", *(argv or sys.argv[1:])])
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    before = os.getloadavg()

    benchmarks = {} if args.no_write else _previous()
    failed = False
    for benchmark in chosen:
        parameters = benchmark.quick if args.quick else benchmark.full
        print(f"== {benchmark.name} {parameters}", flush=True)
        entry: dict[str, Any] = {"date": date, "command": command, "quick": args.quick}
        started, entry_load = time.perf_counter(), os.getloadavg()[0]
        # One benchmark failing (a server that would not start on a busy machine) must not
        # lose the others' figures: it is reported in the table and the exit status instead.
        try:
            result = benchmark.run(**parameters)
            print("\n".join(result.lines()), flush=True)
            entry["figures"] = figures(result)
            entry["rows"] = [asdict(row) for row in ROWS[benchmark.name](result)]
        except Exception as exc:
            traceback.print_exc()
            failed = True
            entry["error"] = f"{type(exc).__name__}: {exc}"
        entry["parameters"] = parameters
        entry["seconds"] = round(time.perf_counter() - started, 1)
        entry["load_average_1min"] = [round(entry_load, 2), round(os.getloadavg()[0], 2)]
        benchmarks[benchmark.name] = entry

    if not args.no_write:
        report = {
            "date": date,
            "command": command,
            "quick": args.quick,
            "machine": machine(),
            "load_average": {
                "before": [round(x, 2) for x in before],
                "after": [round(x, 2) for x in os.getloadavg()],
            },
            "benchmarks": {name: benchmarks[name] for name in NAMES if name in benchmarks},
        }
        write_json(RESULTS, report)
        replace_region(PERFORMANCE, render(report))
        print(f"wrote {RESULTS.relative_to(REPO)} and the table in {PERFORMANCE.relative_to(REPO)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
