"""A closed-loop HTTP load driver and the latency figures it reports.

Each client thread owns one keep-alive `httpx.Client`, picks an operation by weight, sends it,
waits for the answer and sends the next: the offered load adapts to the server, as it does with
real users. Figures are kept per operation and per traffic class; any status an operation does
not expect (and any transport error, counted as status 0) is an error.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

Send = Callable[[httpx.Client, random.Random], httpx.Response]

MAX_ERROR_SAMPLES = 5


@dataclass(frozen=True)
class Operation:
    traffic: str
    name: str
    weight: int
    send: Send
    expected: frozenset[int] = frozenset({200})


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    if not ordered:
        return 0.0
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Latency:
    requests: int
    errors: int
    throughput: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float], errors: int, wall: float) -> Latency:
        ordered = sorted(seconds)
        return cls(
            requests=len(ordered),
            errors=errors,
            throughput=len(ordered) / wall if wall > 0 else 0.0,
            p50_ms=percentile(ordered, 0.50) * 1000,
            p95_ms=percentile(ordered, 0.95) * 1000,
            p99_ms=percentile(ordered, 0.99) * 1000,
        )

    def line(self) -> str:
        return (
            f"{self.requests} requests, {self.throughput:.0f} req/s, p50 {self.p50_ms:.1f} ms, "
            f"p95 {self.p95_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, errors {self.errors}"
        )


@dataclass(frozen=True)
class LoadRun:
    clients: int
    wall_seconds: float
    overall: Latency
    by_traffic: dict[str, Latency]
    by_operation: dict[str, Latency]
    statuses: dict[str, dict[int, int]]
    error_samples: list[str] = field(default_factory=list)

    def traffic(self, name: str) -> Latency:
        """One traffic class's figures (all zero when it sent nothing)."""
        return self.by_traffic.get(name) or Latency.of([], 0, self.wall_seconds)


@dataclass(frozen=True)
class _Sample:
    operation: Operation
    status: int
    seconds: float
    error: str | None


def drive(
    base_url: str,
    operations: Sequence[Operation],
    *,
    clients: int,
    duration: float | None = None,
    requests: int | None = None,
    warmup: float = 0.0,
    seed: int = 1,
    timeout: float = 60,
) -> LoadRun:
    """Send a weighted mix of `operations` from `clients` threads, either for `duration`
    seconds or until `requests` have been sent, after `warmup` seconds that are not counted."""
    if (duration is None) == (requests is None):
        raise ValueError("give either duration or requests")
    weights = [op.weight for op in operations]
    stop = threading.Event()
    lock = threading.Lock()
    left = requests or 0
    measuring_from = float("inf")  # set when the warm-up ends; the threads read it
    per_thread: list[list[_Sample]] = [[] for _ in range(clients)]

    def take() -> bool:
        nonlocal left
        if requests is None or time.perf_counter() < measuring_from:
            return not stop.is_set()
        with lock:
            if left == 0:
                return False
            left -= 1
            return True

    def client_loop(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        samples = per_thread[index]
        with httpx.Client(base_url=base_url, timeout=timeout) as client:
            while take():
                operation = rng.choices(operations, weights)[0]
                started = time.perf_counter()
                error = None
                try:
                    response = operation.send(client, rng)
                    status = response.status_code
                    if status not in operation.expected:
                        error = f"{operation.name}: {status} {response.text[:200]}"
                except httpx.HTTPError as exc:
                    status, error = 0, f"{operation.name}: {type(exc).__name__} {exc}"
                if started >= measuring_from:
                    samples.append(_Sample(operation, status, time.perf_counter() - started, error))

    threads = [threading.Thread(target=client_loop, args=(i,), daemon=True) for i in range(clients)]
    if warmup <= 0:
        measuring_from = time.perf_counter()
    for thread in threads:
        thread.start()
    if warmup > 0:
        time.sleep(warmup)
        measuring_from = time.perf_counter()
    if duration is not None:
        time.sleep(duration)
        stop.set()
    for thread in threads:
        thread.join()
    # Until the last answer: requests still in flight when the time is up are counted.
    wall = time.perf_counter() - measuring_from
    samples = [s for thread_samples in per_thread for s in thread_samples]
    return _summarise(samples, clients, wall)


def _summarise(samples: list[_Sample], clients: int, wall: float) -> LoadRun:
    def latency(group: list[_Sample]) -> Latency:
        return Latency.of(
            [s.seconds for s in group], sum(1 for s in group if s.error is not None), wall
        )

    by_traffic: dict[str, list[_Sample]] = {}
    by_operation: dict[str, list[_Sample]] = {}
    for sample in samples:
        by_traffic.setdefault(sample.operation.traffic, []).append(sample)
        by_operation.setdefault(sample.operation.name, []).append(sample)
    return LoadRun(
        clients=clients,
        wall_seconds=wall,
        overall=latency(samples),
        by_traffic={name: latency(group) for name, group in sorted(by_traffic.items())},
        by_operation={name: latency(group) for name, group in sorted(by_operation.items())},
        statuses={
            name: dict(sorted(Counter(s.status for s in group).items()))
            for name, group in sorted(by_operation.items())
        },
        error_samples=[s.error for s in samples if s.error is not None][:MAX_ERROR_SAMPLES],
    )
