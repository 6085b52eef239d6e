"""Logging for ``roomops agent`` and ``roomops sim``: one line per meaningful event, as text or
JSON lines.

    ROOMOPS_LOG_LEVEL=info|debug|warning   (the agent's -v is debug)
    ROOMOPS_LOG_FORMAT=text|json           (or --log-format; json = one object a line)

Noise is turned down at the source: APScheduler's "Running job ... executed successfully" and
the HTTP client's per-request lines are WARNING. Central has the same module
(``central/logsetup.py``): the import rule keeps central and agent apart.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import IO

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: loggers that say "all is well" once per job, request or SSH session: WARNING unless asked for
QUIET = ("apscheduler", "uvicorn.access", "httpx", "httpcore", "websockets", "multipart", "paramiko")


class JsonLines(logging.Formatter):
    """One JSON object per record: ts (UTC, ISO 8601), level, logger, msg (+ exc)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(level: str | None = None, fmt: str | None = None, *, access_log: bool = False,
              stream: IO[str] | None = None) -> logging.Handler:
    """Root logging to ``stream`` (stderr). Returns the handler (tests detach it)."""
    level_name = (level or os.environ.get("ROOMOPS_LOG_LEVEL") or "info").upper()
    chosen = (fmt or os.environ.get("ROOMOPS_LOG_FORMAT") or "text").lower()
    if chosen not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {chosen!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines() if chosen == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level_name)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    if access_log:
        logging.getLogger("uvicorn.access").setLevel(level_name)
    return handler
