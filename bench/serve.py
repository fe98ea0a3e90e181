"""Run the service (or the reference app) as its own processes for a benchmark.

`grants serve` is started the way production starts it, on a free loopback port, and is ready
when its readiness probe answers 200; the benchmark then talks to it over HTTP only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.servers import LOOPBACK, free_port

REPO = Path(__file__).resolve().parent.parent
GRANTS = str(Path(sys.executable).parent / "grants")
DEMO_PASSWORD = "demo-password-2026"


def service_env(**settings: str) -> dict[str, str]:
    """The environment of a benchmarked service: cheap password hashes (sign-ins happen in the
    set-up, never in the measured part), no access log, no limit on registrations (set-ups
    register many organisations from one address), and the given settings."""
    return {
        **os.environ,
        "GRANTS_ENV": "development",
        "PASSWORD_HASH_MEMORY_KIB": "8",
        "PASSWORD_HASH_TIME_COST": "1",
        "LOG_LEVEL": "WARNING",
        "REGISTRATION_MAX_PER_HOUR": "1000000",
        **settings,
    }


def grants(*args: str, env: Mapping[str, str]) -> None:
    """Run a one-shot `grants` command (migrate, demo) and fail loudly if it fails."""
    subprocess.run([GRANTS, *args], env=env, check=True, capture_output=True)


@dataclass(frozen=True)
class Served:
    base_url: str
    pid: int


@contextmanager
def serving(
    command: list[str], env: Mapping[str, str], ready_path: str = "/readyz", timeout: float = 90
) -> Iterator[Served]:
    """Start `command --host 127.0.0.1 --port N`, wait until `ready_path` answers 200, stop at
    the end (SIGTERM, then up to 30 s for in-flight requests)."""
    port = free_port()
    process = subprocess.Popen(
        [*command, "--host", LOOPBACK, "--port", str(port)], env=dict(env), cwd=REPO
    )
    base_url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with code {process.returncode}")
            try:
                answer = httpx.get(base_url + ready_path, timeout=5)
                if answer.status_code == 200:
                    break
                last = f"{answer.status_code} {answer.text[:300]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{base_url}{ready_path} not ready after {timeout} s: {last}")
            time.sleep(0.1)
        yield Served(base_url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def serve_grants(env: Mapping[str, str], workers: int) -> AbstractContextManager[Served]:
    """`grants serve --workers N` with the given environment."""
    return serving([GRANTS, "serve", "--workers", str(workers)], env)


def login(api: httpx.Client, email: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    response = api.post("/api/v1/auth/token", data={"username": email, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")
