"""Contract tests for app.storage, run against every backend."""
