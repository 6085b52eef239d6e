"""The xAPI's JSON output mode (CE8.1+): every request ends ``| resultId="<n>"`` and its reply
is the JSON object carrying that ``ResultId``; objects without one are feedback. Objects are
found by brace balance (they are not newline-delimited); some units echo the request line
before the JSON even after ``echo off`` (protocols.md, PlaceOS "junk data" case)."""

from __future__ import annotations

import json
import time
from typing import Any

from drivers.cisco_roomos.channels import StreamChannel
from drivers.cisco_roomos.xapi import Reply, flatten_json, json_value
from drivers.errors import CommandRejected, DeviceTimeout, ProtocolError


class JsonChannel(StreamChannel):
    mode = "json"
    _seq = 0

    def exchange(self, command: str, deadline: float) -> Reply:
        self.check_command(command)
        self.flush_feedback()
        self._seq += 1
        rid = f"ro{self._seq}"
        self.link.write(f'{command} | resultId="{rid}"\n'.encode())
        return self._reply(command, rid, deadline)

    def flush_feedback(self) -> None:
        while (item := self._take_item()) is not None:
            kind, value = item
            if kind == "object":
                self.feedback(value)
            elif value.strip() and value.strip() != "OK":
                raise ProtocolError(f"unexpected text {value[:60]!r}", device=self.device, data=value)

    def _take_item(self) -> tuple[str, Any] | None:
        """Next complete JSON object or text line from the buffer, or None."""
        data = self.link.pending
        i = 0
        while i < len(data) and data[i] in b" \t\r\n":
            i += 1
        if i == len(data):
            del data[:i]
            return None
        if data[i:i + 1] != b"{":
            nl = data.find(b"\n", i)
            if nl < 0:
                if len(data) - i >= 2 and data[i:i + 1] == b"#":
                    text = data[i:].decode("utf-8", "replace")
                    raise ProtocolError(f"garbled reply {text[:60]!r}", device=self.device, data=text)
                return None
            text = data[i:nl].decode("utf-8", "replace").strip()
            del data[:nl + 1]
            return "text", text
        depth = 0
        in_string = False
        escape = False
        for j in range(i, len(data)):
            c = data[j]
            if in_string:
                if escape:
                    escape = False
                elif c == 0x5C:
                    escape = True
                elif c == 0x22:
                    in_string = False
            elif c == 0x22:
                in_string = True
            elif c == 0x7B:
                depth += 1
            elif c == 0x7D:
                depth -= 1
                if depth == 0:
                    raw = bytes(data[i:j + 1])
                    del data[:j + 1]
                    try:
                        return "object", json.loads(raw)
                    except ValueError as exc:
                        raise ProtocolError(f"bad JSON: {exc}", device=self.device, data=raw) from exc
        return None

    def _reply(self, command: str, rid: str, deadline: float) -> Reply:
        while True:
            item = self._take_item()
            if item is None:
                if time.monotonic() >= deadline or not self.link.fill(deadline):
                    if time.monotonic() >= deadline:
                        self.link.discard_pending(f"timeout waiting for the reply to {command!r}", stale=True)
                        raise DeviceTimeout(f"no reply to {command!r} within the deadline",
                                            device=self.device)
                continue
            kind, value = item
            if kind == "text":
                if value == "Command not recognized.":
                    raise CommandRejected("not recognized", f"{command.split()[0]}: Command not recognized.",
                                          device=self.device, command=command)
                if not value or value == "OK" or command.startswith(value) or value.startswith(command):
                    continue   # blank, or the request echoed before the JSON (seen on some units)
                raise ProtocolError(f"unexpected text {value[:80]!r}", device=self.device, data=value)
            if not isinstance(value, dict):
                raise ProtocolError("JSON reply is not an object", device=self.device, data=str(value))
            got = value.get("ResultId")
            if got is None:
                self.feedback(value)
                continue
            if got != rid:
                continue   # the late answer to a request that already timed out
            return self._result(command, value)

    def _result(self, command: str, obj: dict[str, Any]) -> Reply:
        for kind in ("Status", "Configuration"):
            if kind in obj:
                body = obj[kind]
                if isinstance(body, dict) and str(body.get("status", "OK")).lower() != "ok":
                    reason = json_value(body.get("Reason")) or json_value(body.get("XPath")) or "error"
                    raise CommandRejected(str(body["status"]), reason, device=self.device, command=command)
                return {}, flatten_json(body) if isinstance(body, dict) else []
        response = obj.get("CommandResponse")
        if not isinstance(response, dict) or len(response) != 1:
            raise ProtocolError("reply has no CommandResponse", device=self.device, data=json.dumps(obj))
        name, body = next(iter(response.items()))
        if not isinstance(body, dict):
            raise ProtocolError("malformed CommandResponse", device=self.device, data=json.dumps(obj))
        status = str(body.get("status", "OK"))
        if status.lower() != "ok":
            raise CommandRejected(status, json_value(body.get("Reason")) or json_value(body.get("XPath"))
                                  or "error", device=self.device, command=command)
        fields = {k: json_value(v) for k, v in body.items() if k != "status"}
        fields["_result"] = name
        return fields, []

    def feedback(self, obj: dict[str, Any]) -> None:
        if "Event" in obj and isinstance(obj["Event"], dict):
            for name, body in obj["Event"].items():
                self.sink.event(name, {k: json_value(v) for k, v in body.items()} if isinstance(body, dict)
                                else {})
        if "Status" in obj and isinstance(obj["Status"], dict):
            calls = obj["Status"].get("Call")
            if isinstance(calls, list):
                for item in calls:
                    if isinstance(item, dict) and str(item.get("ghost", "")).lower() == "true":
                        self.sink.call_gone(str(item.get("id")))
            self.sink.status(flatten_json(obj["Status"]))
