"""Log output: one JSON object per line (or plain text), each carrying its request's id.

`RequestContextFilter` copies the current request id and user id onto every record that
reaches the handler, whichever logger emitted it (the application's, SQLAlchemy's, uvicorn's).
`JsonFormatter` writes the record's standard fields plus any `extra=` fields, so the access
line's `method`, `route`, `status` and `duration_ms` become keys of their own.

`logging_config()` is a `logging.config.dictConfig` dictionary. `grants serve` hands it to
uvicorn, which applies it in every worker process, so uvicorn's own loggers go through the same
handler; uvicorn's access log is switched off because the application writes its own.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any, Literal

from app.observability.context import current

LogFormat = Literal["json", "text"]
ACCESS_LOGGER = "app.access"

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()
    | {"message", "asctime", "request_id", "user_id", "taskName"}
)


class RequestContextFilter(logging.Filter):
    """Adds `request_id` and `user_id` (None outside a request) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current()
        if not hasattr(record, "request_id"):
            record.request_id = context.request_id if context else None
        if not hasattr(record, "user_id"):
            record.user_id = context.user_id if context else None
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "user_id": getattr(record, "user_id", None),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return _timestamp(record)

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return super().format(record)


def logging_config(
    level: str = "INFO", fmt: LogFormat = "json", stream: Any = "ext://sys.stderr"
) -> dict[str, Any]:
    """A dictConfig for the whole process: one handler on the root logger."""
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_context": {"()": RequestContextFilter}},
        "formatters": {"default": {"()": formatter}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_context"],
                "stream": stream,
            }
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            # uvicorn's loggers have handlers of their own by default: route them to ours.
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def configure_logging(level: str = "INFO", fmt: LogFormat = "json", stream: Any = None) -> None:
    """Apply `logging_config` in this process (stderr unless a stream is given)."""
    logging.config.dictConfig(
        logging_config(level, fmt, stream if stream is not None else "ext://sys.stderr")
    )
