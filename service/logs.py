"""Logging: one configuration for Sanic's loggers and ours, as text or one JSON object a line.

``LOG_FORMAT=text`` (the development default) prints readable lines;
``LOG_FORMAT=json`` (the production default) prints one JSON object per line
with ``time``, ``level``, ``logger``, ``message``, ``request_id`` and every
``extra`` field, ready for a log collector. Sanic's access log is formatted the
same way.

The request id of the request being handled (see :mod:`service.api.context`)
lives in a context variable, which :class:`RequestIdFilter` copies onto every
record, so every line a request causes carries it, whichever logger wrote it.

Log lines never hold a secret or a message body; a visitor's address is
logged only through :func:`mask_email`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson
from sanic.log import LOGGING_CONFIG_DEFAULTS

__all__ = [
    "JsonFormatter",
    "RequestIdFilter",
    "TextFormatter",
    "access_fields_var",
    "logging_config",
    "mask_addresses",
    "mask_email",
    "request_id_var",
    "skip_unprinted_record_fields",
]

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
access_fields_var: ContextVar[Mapping[str, Any] | None] = ContextVar("access_fields", default=None)
"""Fields the request's access line carries besides Sanic's (an accepted submission's id)."""

_ACCESS_LOGGER = "sanic.access"
# A secret query argument (ACS's Event Grid webhook URL carries ``?token=``): never logged.
_SECRET_ARGUMENT = re.compile(r"([?&]token=)[^&\s]*")
_NO_REQUEST = "-"

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "taskName",
}


_ADDRESS = re.compile(r"[^\s<>\"'@,;:()\[\]]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def mask_addresses(text: str) -> str:
    """Every email address in ``text`` (a provider's answer), masked with :func:`mask_email`."""
    return _ADDRESS.sub(lambda match: mask_email(match.group(0)), text)


def mask_email(address: str) -> str:
    """``alice@example.org`` -> ``a***@example.org``: enough to tell visitors apart, no more."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id`` from the current request's context (``-`` outside one).

    The access line also gets the request's :data:`access_fields_var`: one line
    per submission says who answered what, instead of a line of its own.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate, never drop."""
        record.request_id = request_id_var.get() or _NO_REQUEST
        if record.name == _ACCESS_LOGGER:
            fields = access_fields_var.get()
            if fields:
                record.__dict__.update(fields)
        return True


def _access_fields(record: logging.LogRecord) -> dict[str, Any]:
    """Sanic's access ``extra`` (request, status, byte, host, duration) in plain types."""
    duration = str(getattr(record, "duration", "")).strip().removesuffix("ms")
    fields: dict[str, Any] = {
        "request": _SECRET_ARGUMENT.sub(r"\1[redacted]", str(getattr(record, "request", ""))),
        "status": getattr(record, "status", 0),
        "bytes": getattr(record, "byte", 0),
        "client": getattr(record, "host", ""),
    }
    with contextlib.suppress(ValueError):  # Sanic leaves it empty when it did not time
        fields["duration_ms"] = float(duration)
    return fields


def _access_message(fields: dict[str, Any]) -> str:
    duration = fields.get("duration_ms")
    took = f" {duration:.1f} ms" if duration is not None else ""
    return f"{fields['request']} {fields['status']} {fields['bytes']}B{took}"


class TextFormatter(logging.Formatter):
    """``time level logger [request id] message``; access lines are spelled out."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record``, giving Sanic's empty access message its content."""
        record.request_id = getattr(record, "request_id", _NO_REQUEST)
        if record.name == _ACCESS_LOGGER and not record.msg:
            record.msg = _access_message(_access_fields(record))
            if submission := getattr(record, "submission_id", None):
                record.msg += f" submission {submission}"
            record.args = None
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with ``extra`` fields as keys of their own."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialize ``record``; values JSON cannot hold become strings."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", _NO_REQUEST),
        }
        if record.name == _ACCESS_LOGGER:
            access = _access_fields(record)
            entry.update(access)
            entry["message"] = entry["message"] or _access_message(access)
            extra_skip = {"request", "status", "byte", "host", "duration"}
        else:
            extra_skip = set()
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and key not in extra_skip and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        try:
            # orjson: about a third of json.dumps's time, on every line the service writes.
            return orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        except orjson.JSONEncodeError:  # an integer past 64 bits, a circular value...
            return json.dumps(entry, ensure_ascii=False, default=str)


_FORMATTERS = {"text": TextFormatter, "json": JsonFormatter}


def skip_unprinted_record_fields() -> None:
    """Stop every log record from looking up what no JSON line prints.

    The caller's file and line (a walk up the stack), the thread and the
    process: the logging HOWTO's "Optimization" switches, about a third of a
    record's cost, paid twice per submission. Process-wide, so the app calls it
    only when it logs JSON (production); the text format keeps them.
    """
    logging._srcfile = None  # the HOWTO's own spelling of "no caller information"
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def logging_config(level: str = "INFO", fmt: str = "text") -> dict[str, Any]:
    """A ``dictConfig`` for Sanic: its loggers and our ``service.*`` ones, in format ``fmt``."""
    if fmt not in _FORMATTERS:
        raise ValueError(f"unknown log format {fmt!r}")
    # Streams are named (ext://), not passed: they are looked up when the config is applied.
    handler = {"class": "logging.StreamHandler", "formatter": fmt, "filters": ["request_id"]}
    loggers = {name: dict(spec) for name, spec in LOGGING_CONFIG_DEFAULTS["loggers"].items()}
    for spec in loggers.values():
        spec.pop("qualname", None)
    # Sanic's own loggers stay at their INFO (startup, access) unless we are asked for less.
    sanic_level = level if logging.getLevelName(level) > logging.INFO else "INFO"
    for spec in loggers.values():
        spec["level"] = sanic_level
    # Propagation stays on so that test tools listening on the root logger see our records;
    # in production the root logger has no handler, so nothing is printed twice.
    loggers["service"] = {"level": level, "handlers": ["console"], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "text": {"()": TextFormatter},
            "json": {"()": JsonFormatter},
        },
        "handlers": {
            "console": {**handler, "stream": "ext://sys.stdout"},
            "error_console": {**handler, "stream": "ext://sys.stderr"},
            "access_console": {**handler, "stream": "ext://sys.stdout"},
        },
        "loggers": loggers,
    }
