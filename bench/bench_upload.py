"""Upload benchmark: a 200 MB document through the API into S3, next to boto3 direct.

Starts a real `rclone serve s3` and the service (`grants serve`, one worker, SQLite) as
separate processes, then uploads the same file three ways and reports throughput and the
server's peak memory growth (VmHWM from /proc, measured before and after the uploads):

    .venv/bin/python -m bench.bench_upload [--size-mb 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import httpx
from boto3.s3.transfer import TransferConfig

from tests.support.servers import S3Server, free_port

MIB = 1024 * 1024
CHUNK = MIB


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mb * MIB

    with tempfile.TemporaryDirectory() as tmp_name, S3Server(Path(tmp_name) / "s3") as s3:
        tmp = Path(tmp_name)
        s3.create_bucket("bench")
        data = tmp / "annex.pdf"
        _make_file(data, size)
        digest = hashlib.sha256(data.read_bytes()).hexdigest()
        env = {
            **os.environ,
            **s3.env(),
            "GRANTS_ENV": "development",
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            "STORAGE_URL": "s3://bench/docs",
            "MAX_UPLOAD_MB": str(args.size_mb * 2),
            "PASSWORD_HASH_MEMORY_KIB": "8",
            "PASSWORD_HASH_TIME_COST": "1",
        }
        grants = str(Path(sys.executable).parent / "grants")
        subprocess.run([grants, "migrate"], env=env, check=True, capture_output=True)
        subprocess.run([grants, "demo"], env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen(
            [grants, "serve", "--port", str(port), "--workers", "1"],
            env={**env, "LOG_LEVEL": "WARNING"},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            api = httpx.Client(base_url=base, timeout=600)

            def login(email: str) -> dict[str, str]:
                token = api.post(
                    "/api/v1/auth/token",
                    data={"username": email, "password": "demo-password-2026"},
                ).json()["access_token"]
                return {"Authorization": f"Bearer {token}"}

            officer, ngo = login("officer@example.org"), login("ngo@example.org")
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
                            "max_size_mb": args.size_mb * 2,
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
            api.post(f"/api/v1/calls/{call['id']}/publish", headers=officer)
            application = api.post(
                f"/api/v1/calls/{call['id']}/applications", headers=ngo, json={"title": "Bench"}
            ).json()
            url = f"/api/v1/applications/{application['id']}/documents"
            baseline = _peak_rss_mib(server.pid)

            api_times, boto_times = [], []
            client = boto3.client(
                "s3",
                endpoint_url=s3.endpoint_url,
                aws_access_key_id=s3.access_key,
                aws_secret_access_key=s3.secret_key,
                region_name="us-east-1",
            )
            transfer = TransferConfig(multipart_chunksize=8 * MIB, max_concurrency=1)
            for run in range(args.runs):
                boundary = f"bench{run}"
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
                client.upload_file(str(data), "bench", f"direct/{run}", Config=transfer)
                boto_times.append(time.perf_counter() - started)
            peak = _peak_rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)

    api_rate = args.size_mb / statistics.median(api_times)
    boto_rate = args.size_mb / statistics.median(boto_times)
    print(f"file: {args.size_mb} MB, runs: {args.runs}")
    print(
        f"API upload (stream → sniff → sha256 → S3 multipart): median {statistics.median(api_times):.2f} s, {api_rate:.0f} MB/s"
    )
    print(
        f"boto3 upload_file direct (8 MiB parts, 1 thread):    median {statistics.median(boto_times):.2f} s, {boto_rate:.0f} MB/s"
    )
    print(f"API throughput / direct: {api_rate / boto_rate:.0%}")
    print(
        f"server peak RSS: {baseline:.0f} MiB before, {peak:.0f} MiB after, growth {peak - baseline:.0f} MiB"
    )


if __name__ == "__main__":
    main()
