"""Log lines for operators: JSON (one object a line, for log shipping) or text, and never
personal data.

What Corridor itself logs carries no personal data by construction: a request is its
method, its route template (``/api/persons/{person_id}``, never the path or the query),
status, duration, request id and the caller's user id (an id, not a name:
``corridor.web.request_log``). An error is logged by its class and where it was raised,
never its message: a database error's message can quote the values of the row it was
writing (PROTECTION.md line 8).
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["json", "text"]
FORMATS: tuple[LogFormat, ...] = ("json", "text")
# Set on a record by ``logger.info(..., extra={FIELDS: {...}})``: the record's fields.
FIELDS = "corridor_fields"


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def _error(record: logging.LogRecord) -> dict[str, Any]:
    """The exception of a record: its class and stack (file, line, function), no message."""
    if not record.exc_info or record.exc_info[0] is None:
        return {}
    kind, _exc, tb = record.exc_info
    frames = [f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(tb)]
    return {"error": f"{kind.__module__}.{kind.__qualname__}", "stack": frames}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time``, ``level``, ``logger``, ``message`` and the fields
    the record carries."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, FIELDS, None) or {})
        line.update(_error(record))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value ...`` for a person reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {**(getattr(record, FIELDS, None) or {}), **_error(record)}
        stack = fields.pop("stack", None)
        pairs = " ".join(f"{k}={v}" for k, v in fields.items())
        line = f"{_time(record)} {record.levelname} {record.name}: {record.getMessage()}"
        line = f"{line} {pairs}" if pairs else line
        if stack:
            line += "\n" + "\n".join(f"  at {frame}" for frame in stack)
        return line


def dict_config(fmt: LogFormat, level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the server (uvicorn applies it in each worker
    process): everything to standard error in ``fmt``; uvicorn's access log, which
    writes raw paths and query strings, off; libraries' chatter at import, off."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"corridor": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "corridor",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": "WARNING", "handlers": [], "propagate": True},
            "uvicorn.error": {"level": "WARNING", "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
            # Chatter at import in each worker process: alembic lists its plugins,
            # python-barcode says it draws no images (Corridor draws SVG).
            "alembic.runtime.plugins": {"level": "WARNING"},
            "pyBarcode": {"level": "WARNING"},
        },
    }
