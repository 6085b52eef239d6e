"""Logging setup of central, the agent and the simulators: text or JSON lines, APScheduler's
per-job chatter and HTTP access lines held at WARNING, a bad format refused."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from agent import logsetup as agent_logs
from central import logsetup as central_logs


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in central_logs.QUIET}
    uvicorn = {name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate,
                      logging.getLogger(name).level) for name in central_logs.UVICORN}
    yield
    for name, (old_handlers, propagate, old_level) in uvicorn.items():
        logging.getLogger(name).handlers[:] = old_handlers
        logging.getLogger(name).propagate = propagate
        logging.getLogger(name).setLevel(old_level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


@pytest.mark.parametrize("module", [central_logs, agent_logs])
def test_json_lines_and_quiet_libraries(module: object) -> None:
    out = io.StringIO()
    module.configure("info", "json", stream=out)  # type: ignore[attr-defined]
    logging.getLogger("agent.runtime").info("agent for site %s started", "lhasa")
    logging.getLogger("apscheduler.executors.default").info('Job "poll" executed successfully')
    logging.getLogger("uvicorn.access").info("GET /api/v1/sites 200")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("central.hub").exception("delivery failed")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(x["level"], x["logger"], x["msg"]) for x in lines] == [
        ("INFO", "agent.runtime", "agent for site lhasa started"),
        ("ERROR", "central.hub", "delivery failed")]
    assert "RuntimeError: boom" in lines[1]["exc"] and lines[0]["ts"].endswith("+00:00")


def test_text_by_default_and_access_log_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROOMOPS_LOG_FORMAT", raising=False)
    monkeypatch.setenv("ROOMOPS_LOG_LEVEL", "warning")
    out = io.StringIO()
    central_logs.configure(None, None, access_log=True, stream=out)
    logging.getLogger("central.x").info("not shown at warning")
    logging.getLogger("central.x").warning("shown")
    assert out.getvalue().rstrip().endswith("WARNING central.x: shown")
    assert logging.getLogger("uvicorn.access").level == logging.WARNING     # follows the chosen level


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text, json"):
        agent_logs.configure("info", "xml", stream=io.StringIO())


def test_websocket_handshakes_are_access_lines() -> None:
    out = io.StringIO()
    central_logs.configure("info", "text", stream=out)
    uvicorn = logging.getLogger("uvicorn.error")
    uvicorn.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", "/agent/v1/link")
    uvicorn.info("connection open")
    uvicorn.info("Uvicorn running on %s", "http://127.0.0.1:8000")
    logging.getLogger("paramiko.transport").info("Connected (version 2.0, client paramiko_5.1.0)")
    assert out.getvalue().strip().endswith("INFO uvicorn.error: Uvicorn running on http://127.0.0.1:8000")
    assert len(out.getvalue().strip().splitlines()) == 1
