"""Request ids, structured logs and Prometheus metrics (docs/operations.md, "Metrics and logs").

Kept empty of imports: `grants serve` workers load `observability.logs` before anything else,
while their supervisor waits for them to answer, so it must not pull the application in.
"""
