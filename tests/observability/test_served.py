"""`grants serve` as deployed: several worker processes, JSON lines on standard error instead
of uvicorn's access log, and one /metrics view over all workers (PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.migrations import migrate
from tests.support.servers import LOOPBACK, free_port

GRANTS = str(Path(sys.executable).parent / "grants")
TOKEN = "metrics-token-0123456789abcdef"
REQUESTS = 40


@contextmanager
def grants_serve(env: dict[str, str], log: Path, *options: str) -> Iterator[str]:
    """`grants serve` until the block ends; its standard error goes to `log`."""
    port = free_port()
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [GRANTS, "serve", "--host", LOOPBACK, "--port", str(port), *options],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        base = f"http://{LOOPBACK}:{port}"
        try:
            # Workers take seconds to start on a busy machine.
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


def healthz_count(base: str) -> float:
    response = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "grants_http_requests_total" and sample.labels == {
                "method": "GET",
                "route": "/healthz",
                "status": "200",
            }:
                return sample.value
    return 0


def get_healthz(base: str) -> str:
    # A new connection each time, so the workers share the load.
    response = httpx.get(f"{base}/healthz", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 200
    return response.headers["X-Request-ID"]


def json_lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_workers_share_one_metrics_view_and_log_json_lines(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'grants.db'}"
    migrate(database_url)
    env = {
        **os.environ,
        "GRANTS_ENV": "development",
        "DATABASE_URL": database_url,
        "STORAGE_URL": f"file://{tmp_path / 'documents'}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "METRICS_TOKEN": TOKEN,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    env.pop("TRUSTED_PROXIES", None)

    # An earlier run (one worker, trusting the loopback proxy) leaves its counters in the
    # directory ...
    first_log = tmp_path / "first.log"
    with grants_serve(env, first_log, "--forwarded-allow-ips", LOOPBACK) as base:
        for _ in range(7):
            get_healthz(base)
        assert healthz_count(base) == 7
    forwarded = [e for e in json_lines(first_log) if e.get("route") == "/healthz"]
    assert {e["client"] for e in forwarded} == {"203.0.113.9"}

    # ... which the next start clears.
    log = tmp_path / "second.log"
    with grants_serve(env, log, "--workers", "2") as base:
        assert healthz_count(base) == 0
        with ThreadPoolExecutor(max_workers=8) as pool:
            request_ids = set(pool.map(lambda _: get_healthz(base), range(REQUESTS)))
        # Whichever worker answers the scrape, it counts every worker's requests.
        scraped = [healthz_count(base) for _ in range(6)]

    assert scraped == [REQUESTS] * 6
    entries = json_lines(log)  # every line is one JSON object, uvicorn's own included
    assert any(e["logger"].startswith("uvicorn") for e in entries)
    assert not [e for e in entries if e["logger"] == "uvicorn.access"]
    served = [e for e in entries if e["logger"] == "app.access" and e["route"] == "/healthz"]
    assert len(served) == REQUESTS
    assert {e["request_id"] for e in served} == request_ids
    assert len(request_ids) == REQUESTS
    # Two worker processes answered, and no proxy is trusted: X-Forwarded-For was ignored.
    assert len({e["pid"] for e in served}) == 2
    assert {e["client"] for e in served} == {LOOPBACK}


@pytest.mark.parametrize(
    ("option", "environment", "named"),
    [
        (["--forwarded-allow-ips", "proxy.example.org"], {}, "TRUSTED_PROXIES"),
        ([], {"TRUSTED_PROXIES": "10.0.0.0/40"}, "TRUSTED_PROXIES"),
        ([], {"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ([], {"CORS_ORIGINS": "*"}, "CORS_ORIGINS"),
    ],
)
def test_serve_refuses_a_bad_setting_before_starting(
    tmp_path: Path, option: list[str], environment: dict[str, str], named: str
) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'grants.db'}", **environment}
    result = subprocess.run(
        [GRANTS, "serve", "--port", str(free_port()), *option],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr.startswith("configuration error:")
    assert named in result.stderr
