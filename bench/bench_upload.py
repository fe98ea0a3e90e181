"""Upload benchmark: a 200 MB document through the API into S3, next to boto3 direct.

Starts a real `rclone serve s3` and the service (`grants serve`, one worker, SQLite) as
separate processes, then uploads the same file `--runs` times through the API and with boto3
directly, and reports throughput and the server's peak memory growth (VmHWM from /proc,
measured before and after the uploads):

    .venv/bin/python -m bench.bench_upload [--size-mb 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import httpx
from boto3.s3.transfer import TransferConfig

from bench.serve import grants, login, peak_rss_mib, serve_grants, service_env
from tests.support.servers import S3Server

MIB = 1024 * 1024
CHUNK = MIB


def _make_file(path: Path, size: int) -> None:
    block = os.urandom(MIB)
    with path.open("wb") as out:
        out.write(b"%PDF-1.7\n")
        written = 9
        while written < size:
            piece = block[: min(MIB, size - written)]
            out.write(piece)
            written += len(piece)


def _multipart(path: Path, boundary: str) -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="doc_type"\r\n\r\nannex\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="annex.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            yield chunk
    yield f"\r\n--{boundary}--\r\n".encode()


@dataclass(frozen=True)
class UploadResult:
    size_mb: int
    runs: int
    api_seconds: list[float]
    boto3_seconds: list[float]
    rss_before_mib: float
    rss_peak_mib: float

    @property
    def api_mb_s(self) -> float:
        return self.size_mb / statistics.median(self.api_seconds)

    @property
    def boto3_mb_s(self) -> float:
        return self.size_mb / statistics.median(self.boto3_seconds)

    def lines(self) -> list[str]:
        return [
            f"file: {self.size_mb} MB, runs: {self.runs}",
            f"API upload (stream → sniff → sha256 → S3 multipart): median "
            f"{statistics.median(self.api_seconds):.2f} s, {self.api_mb_s:.0f} MB/s",
            f"boto3 upload_file direct (8 MiB parts, 1 thread):    median "
            f"{statistics.median(self.boto3_seconds):.2f} s, {self.boto3_mb_s:.0f} MB/s",
            f"API throughput / direct: {self.api_mb_s / self.boto3_mb_s:.0%}",
            f"server peak RSS: {self.rss_before_mib:.0f} MiB before, {self.rss_peak_mib:.0f} MiB "
            f"after, growth {self.rss_peak_mib - self.rss_before_mib:.0f} MiB",
        ]


def run(*, size_mb: int = 200, runs: int = 3) -> UploadResult:
    size = size_mb * MIB
    with tempfile.TemporaryDirectory() as tmp_name, S3Server(Path(tmp_name) / "s3") as s3:
        tmp = Path(tmp_name)
        s3.create_bucket("bench")
        data = tmp / "annex.pdf"
        _make_file(data, size)
        digest = hashlib.sha256(data.read_bytes()).hexdigest()
        env = service_env(
            **s3.env(),
            DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}",
            STORAGE_URL="s3://bench/docs",
            MAX_UPLOAD_MB=str(size_mb * 2),
        )
        grants("migrate", env=env)
        grants("demo", env=env)
        with (
            serve_grants(env, workers=1) as served,
            httpx.Client(base_url=served.base_url, timeout=600) as api,
        ):
            officer, ngo = login(api, "officer@example.org"), login(api, "ngo@example.org")
            now = datetime.now(UTC)
            call = api.post(
                "/api/v1/calls",
                headers=officer,
                json={
                    "title": "Benchmark call",
                    "envelope_amount": "1000000.00",
                    "min_award": "1000.00",
                    "max_award": "100000.00",
                    "opens_at": (now - timedelta(days=1)).isoformat(),
                    "closes_at": (now + timedelta(days=30)).isoformat(),
                    "objectives": [{"code": "protection", "label": "Protection"}],
                    "regions": [{"code": "lima", "label": "Lima"}],
                    "required_documents": [
                        {
                            "type": "annex",
                            "label": "Annex",
                            "max_size_mb": size_mb * 2,
                            "allowed_types": ["application/pdf"],
                        }
                    ],
                    "rubric": {
                        "criteria": [
                            {"key": "q", "label": "Quality", "weight": 100, "max_score": 10}
                        ]
                    },
                },
            ).json()
            api.post(f"/api/v1/calls/{call['id']}/publish", headers=officer).raise_for_status()
            application = api.post(
                f"/api/v1/calls/{call['id']}/applications", headers=ngo, json={"title": "Bench"}
            ).json()
            url = f"/api/v1/applications/{application['id']}/documents"
            baseline = peak_rss_mib(served.pid)

            api_times, boto_times = [], []
            client = boto3.client(
                "s3",
                endpoint_url=s3.endpoint_url,
                aws_access_key_id=s3.access_key,
                aws_secret_access_key=s3.secret_key,
                region_name="us-east-1",
            )
            transfer = TransferConfig(multipart_chunksize=8 * MIB, max_concurrency=1)
            for attempt in range(runs):
                boundary = f"bench{attempt}"
                started = time.perf_counter()
                response = api.post(
                    url,
                    headers={**ngo, "Content-Type": f"multipart/form-data; boundary={boundary}"},
                    content=_multipart(data, boundary),
                )
                api_times.append(time.perf_counter() - started)
                assert response.status_code == 201, response.text
                assert response.json()["sha256"] == digest
                started = time.perf_counter()
                client.upload_file(str(data), "bench", f"direct/{attempt}", Config=transfer)
                boto_times.append(time.perf_counter() - started)
            peak = peak_rss_mib(served.pid)
    return UploadResult(size_mb, runs, api_times, boto_times, baseline, peak)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("\n".join(run(size_mb=args.size_mb, runs=args.runs).lines()))


if __name__ == "__main__":
    main()
