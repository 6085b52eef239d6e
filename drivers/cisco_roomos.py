"""Cisco TelePresence / Webex codecs (TC, CE, RoomOS): the xAPI over SSH.

Protocol facts: protocols.md section 1. After login the shell prints a banner ending with
``*r Login successful`` and ``OK``; each session then turns echo off, picks the output mode and
registers the feedback it needs (all per session: redone on every reconnect).

- JSON mode (CE8.1+): every request ends ``| resultId="<n>"`` and its reply is the JSON object
  carrying that ``ResultId``; objects without one are feedback. Objects are found by brace
  balance (they are not newline-delimited).
- Terminal mode (TC, or ``output_mode: terminal``): a reply is the block (``*s``/``*c``/``*r``
  lines up to ``** end``) followed by ``OK``/``ERROR``; a block not followed by a status line is
  feedback, and ``*e`` blocks always are. ``OK`` before the ``*r`` block (TC examples) works too.
- ``Command not recognized.`` and ``(status=Error)`` results become ``CommandRejected`` with the
  device's reason; any line that fits neither grammar is a ``ProtocolError``.

Endpoint.options (defaults in brackets; [unverified] facts are the configurable ones):
``output_mode`` ``auto`` | ``json`` | ``terminal`` [auto: JSON unless the banner says TC];
``sip_paths`` ``auto`` | ``roomos`` | ``tc`` [auto by release: SIP/H.323 configuration paths,
unverified]; ``camera_id`` [1]; ``disconnect_all`` ``disconnect`` | ``disconnectall`` [auto:
``Call Disconnect`` without CallId on CE, ``Call DisconnectAll`` on TC]; ``login_timeout`` s [10];
``reboot_drop_timeout`` s [10]; ``dial_timeout`` s [endpoint timeout]; ``max_resolution``
[1920x1080, only used when ``MediaChannels`` reports no resolution].
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from typing import Any

import paramiko

from drivers.codec_common import (
    CodecDriverBase,
    LineBuffer,
    call_state,
    opt,
    resolution_for_rate,
    verdict_of,
)
from drivers.errors import AuthError, CommandRejected, DeviceTimeout, Disconnected, ProtocolError
from drivers.roles import CallInfo, Endpoint, Health, Identity
from drivers.transcript import Transcript
from drivers.transports.base import Transport

Leaf = tuple[tuple[str, ...], str]

_LINE_VALUE = re.compile(r"^\*([scer]) (.*?): ?(.*)$")
_RESULT_HEAD = re.compile(r"^\*r (\w+) \(status=(\w+)\):?$")
_GHOST = re.compile(r"^\*s Call (\d+) \(ghost=True\):?$")


def _config_paths(tc: bool) -> dict[str, str]:
    sip = "SIP Profile 1" if tc else "SIP"
    auth = "Authentication 1" if tc else "Authentication"
    h323 = "H323 Profile 1" if tc else "H323"
    return {
        "network.assignment": "Network 1 IPv4 Assignment",
        "network.ipv4.address": "Network 1 IPv4 Address",
        "network.ipv4.mask": "Network 1 IPv4 SubnetMask",
        "network.ipv4.gateway": "Network 1 IPv4 Gateway",
        "network.dns": "Network 1 DNS Server 1 Address",
        "sip.uri": f"{sip} URI",
        "sip.proxy": f"{sip} Proxy 1 Address",
        "sip.username": f"{sip} {auth} UserName",
        "sip.password": f"{sip} {auth} Password",
        "h323.gatekeeper": f"{h323} Gatekeeper Address",
        "h323.alias": f"{h323} H323Alias ID",
        "system.name": "SystemUnit Name",
    }


class CiscoRoomOSDriver(CodecDriverBase):
    vendor = "Cisco"
    default_stream = "tcp"    # a TC unit's raw API port when the profile names no protocol

    def __init__(self, endpoint: Endpoint, *, name: str = "", transcript: Transcript | None = None) -> None:
        super().__init__(endpoint, name=name, transcript=transcript)
        o = endpoint.options
        self.host = endpoint.host
        self.port = endpoint.port or (22 if endpoint.transport == "ssh" else 23)
        self.output_mode_option = str(opt(o, "output_mode", "auto")).lower()
        self.sip_paths_option = str(opt(o, "sip_paths", "auto")).lower()
        self.camera_id = int(opt(o, "camera_id", 1))
        self.login_timeout = float(opt(o, "login_timeout", 10.0))
        self.dial_timeout = float(opt(o, "dial_timeout", endpoint.timeout))
        self.max_resolution = str(opt(o, "max_resolution", "1920x1080"))
        self.disconnect_all_option = str(opt(o, "disconnect_all", "auto")).lower()
        self._transport: Transport | None = None
        self._rx: LineBuffer | None = None
        self.release = ""
        self.mode = "terminal"
        self._seq = 0
        self._calls: dict[str, dict[str, str]] = {}
        self._ended: dict[str, str] = {}          # call id -> CauseType
        self.events: list[tuple[str, dict[str, str]]] = []

    # session ------------------------------------------------------------------------------------
    @property
    def is_tc(self) -> bool:
        return self.release.upper().startswith("TC")

    def _connect_once(self, connect_timeout: float) -> None:
        self.close()
        transport = self._make_transport(connect_timeout)
        transport.open()
        self._transport = transport
        self._rx = LineBuffer(transport)
        self._calls.clear()
        self.mode = "terminal"
        try:
            self._login()
            self._raw_ok("echo off")
            self._choose_output_mode()
            for path in ("/Status/Call", "/Event/CallDisconnect"):
                self._exchange(f"xFeedback register {path}")
            self._seed_calls()
        except BaseException:
            self.close()
            raise

    def _login(self) -> None:
        transport, rx = self._io()
        deadline = time.monotonic() + self.login_timeout
        logged_in = False
        tries = 0
        while True:
            line = rx.take_line()
            if line is None:
                tail = rx.pending_text()
                if re.search(r"(login|Password)\s*:\s*$", tail, re.I):
                    rx.reset()
                    tries += 1
                    if tries > 2:
                        raise AuthError("login refused", device=self.name)
                    secret = self.endpoint.password if tail.lower().rstrip().endswith("password:") else (
                        self.endpoint.username or "admin")
                    transport.write(secret.encode() + b"\r\n")
                    continue
                if len(tail) > 3 and tail.startswith("#"):
                    raise ProtocolError(f"garbled banner: {tail[:60]!r}", device=self.name, data=tail)
                if time.monotonic() >= deadline or not rx.fill(deadline):
                    if time.monotonic() >= deadline:
                        rx.reset()
                        raise DeviceTimeout("no login banner within the deadline", device=self.name)
                continue
            text = line.strip()
            if "Login incorrect" in text:
                raise AuthError("login refused", device=self.name)
            if text.startswith("Cisco Codec Release"):
                self.release = text[len("Cisco Codec Release"):].strip()
            elif "Login successful" in text:
                logged_in = True
            elif text == "OK" and logged_in:
                return
            elif text.startswith("#") or (logged_in and text):
                raise ProtocolError(f"unexpected banner line {text[:60]!r}", device=self.name, data=text)

    def _raw_ok(self, command: str) -> list[str]:
        """A session command answered by plain lines and ``OK`` (echo, xPreferences)."""
        transport, rx = self._io()
        self._flush_feedback()
        transport.write(command.encode() + b"\n")
        deadline = time.monotonic() + self.endpoint.timeout
        lines: list[str] = []
        while True:
            text = rx.next_line(deadline, f"OK to {command!r}").strip()
            if text == "OK":
                return lines
            if text == "Command not recognized.":
                raise CommandRejected("not recognized", text, device=self.name, command=command)
            if text and text != command:
                if text.startswith("#"):
                    raise ProtocolError(f"garbled reply {text[:60]!r}", device=self.name, data=text)
                lines.append(text)

    def _choose_output_mode(self) -> None:
        wanted = self.output_mode_option
        if wanted == "auto":
            wanted = "terminal" if self.is_tc else "json"
        if wanted != "json":
            self.mode = "terminal"
            return
        lines = self._raw_ok("xPreferences OutputMode JSON")
        # A firmware without JSON prints its usage text and stays in terminal mode.
        self.mode = "terminal" if any("usage" in ln.lower() for ln in lines) else "json"

    # exchange ------------------------------------------------------------------------------------
    def _exchange(self, command: str, timeout: float | None = None) -> tuple[dict[str, str], list[Leaf]]:
        """Send one xAPI request; return (result fields, status/config leaves)."""
        if "\n" in command or "\r" in command:
            raise CommandRejected("value", "line break in a command", device=self.name)
        transport, _ = self._io()
        self._flush_feedback()
        deadline = time.monotonic() + (timeout or self.endpoint.timeout)
        if self.mode == "json":
            self._seq += 1
            rid = f"ro{self._seq}"
            transport.write(f'{command} | resultId="{rid}"\n'.encode())
            return self._json_reply(command, rid, deadline)
        transport.write(command.encode() + b"\n")
        return self._terminal_reply(command, deadline)

    def _flush_feedback(self) -> None:
        """Handle feedback that arrived between requests (complete blocks / objects only)."""
        if self._rx is None:
            return
        if self.mode == "json":
            while (item := self._take_json_item()) is not None:
                kind, value = item
                if kind == "object":
                    self._json_feedback(value)
                elif value.strip() and value.strip() != "OK":
                    raise ProtocolError(f"unexpected text {value[:60]!r}", device=self.name, data=value)
            return
        # No request is outstanding: every complete block here is feedback.
        while re.search(rb"\*\* end\r?\n", self._rx.data):
            block: list[str] = []
            while (line := self._rx.take_line()) is not None:
                line = line.strip()
                if line == "** end":
                    break
                if line and line != "OK":
                    block.append(line)
            self._terminal_feedback(block)

    # terminal mode -------------------------------------------------------------------------------
    def _terminal_reply(self, command: str, deadline: float) -> tuple[dict[str, str], list[Leaf]]:
        _, rx = self._io()
        blocks: list[list[str]] = []
        current: list[str] = []
        status: str | None = None
        while True:
            text = rx.next_line(deadline, f"reply to {command!r}").strip()
            if not text or text == command:
                continue
            if text == "Command not recognized.":
                raise CommandRejected("not recognized", f"{command.split()[0]}: Command not recognized.",
                                      device=self.name, command=command)
            if text == "** end":
                block, current = current, []
                if status is not None:
                    return self._terminal_result(command, status, block)
                blocks.append(block)
                continue
            if text in ("OK", "ERROR"):
                if blocks and not current:
                    reply = blocks.pop()
                    for fb in blocks:
                        self._terminal_feedback(fb)
                    return self._terminal_result(command, text, reply)
                for fb in blocks:
                    self._terminal_feedback(fb)
                blocks = []
                status = text
                if not command.lower().startswith("xcommand"):
                    return self._terminal_result(command, text, [])
                continue   # TC: OK first, the *r block follows
            if text.startswith("*") or re.match(r"^\w+: ", text):
                current.append(text)
                continue
            raise ProtocolError(f"unexpected reply line {text[:80]!r}", device=self.name, data=text)

    def _terminal_result(self, command: str, status: str, block: list[str]) -> tuple[dict[str, str],
                                                                                     list[Leaf]]:
        fields: dict[str, str] = {}
        leaves: list[Leaf] = []
        result_status = "OK" if status == "OK" else "Error"
        feedback: list[str] = []
        for line in block:
            head = _RESULT_HEAD.match(line)
            if head:
                result_status = head.group(2)
                fields["_result"] = head.group(1)
                continue
            if line.startswith("*e"):
                feedback.append(line)
                continue
            m = _LINE_VALUE.match(line)
            if m:
                kind, path, value = m.groups()
                words = path.split()
                if kind == "r":
                    fields[words[-1]] = _unquote(value)
                elif kind == "c":
                    leaves.append((tuple(w for w in words if w.lower() != "xconfiguration"), _unquote(value)))
                else:
                    leaves.append((tuple(words), _unquote(value)))
                continue
            key, sep, value = line.strip().partition(":")
            if sep:
                fields[key.strip()] = _unquote(value.strip())
                continue
            raise ProtocolError(f"unparseable reply line {line[:80]!r}", device=self.name, data=line)
        if feedback:
            self._terminal_feedback(feedback)
        if result_status.lower() != "ok" or status == "ERROR":
            reason = fields.get("Reason") or fields.get("XPath") or "error"
            raise CommandRejected(result_status, reason, device=self.name, command=command)
        return fields, leaves

    def _terminal_feedback(self, block: list[str]) -> None:
        event_fields: dict[str, str] = {}
        event_name = ""
        leaves: list[Leaf] = []
        for line in block:
            ghost = _GHOST.match(line)
            if ghost:
                self._call_gone(ghost.group(1))
                continue
            m = _LINE_VALUE.match(line)
            if not m:
                raise ProtocolError(f"unparseable feedback line {line[:80]!r}", device=self.name, data=line)
            kind, path, value = m.groups()
            words = path.split()
            if kind == "e":
                event_name = words[0]
                event_fields[words[-1]] = _unquote(value)
            elif kind == "s":
                leaves.append((tuple(words), _unquote(value)))
        if event_name:
            self._event(event_name, event_fields)
        self._status_feedback(leaves)

    # JSON mode -----------------------------------------------------------------------------------
    def _take_json_item(self) -> tuple[str, Any] | None:
        """Next complete JSON object or text line from the buffer, or None."""
        rx = self._rx
        assert rx is not None
        data = rx.data
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
                    raise ProtocolError(f"garbled reply {text[:60]!r}", device=self.name, data=text)
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
                        raise ProtocolError(f"bad JSON: {exc}", device=self.name, data=raw) from exc
        return None

    def _json_reply(self, command: str, rid: str, deadline: float) -> tuple[dict[str, str], list[Leaf]]:
        _, rx = self._io()
        while True:
            item = self._take_json_item()
            if item is None:
                if time.monotonic() >= deadline or not rx.fill(deadline):
                    if time.monotonic() >= deadline:
                        rx.reset()
                        raise DeviceTimeout(f"no reply to {command!r} within the deadline", device=self.name)
                continue
            kind, value = item
            if kind == "text":
                if value == "Command not recognized.":
                    raise CommandRejected("not recognized", f"{command.split()[0]}: Command not recognized.",
                                          device=self.name, command=command)
                if not value or value == "OK" or command.startswith(value) or value.startswith(command):
                    continue   # blank, or the request echoed before the JSON (seen on some units)
                raise ProtocolError(f"unexpected text {value[:80]!r}", device=self.name, data=value)
            if not isinstance(value, dict):
                raise ProtocolError("JSON reply is not an object", device=self.name, data=str(value))
            got = value.get("ResultId")
            if got is None:
                self._json_feedback(value)
                continue
            if got != rid:
                continue   # the late answer to a request that already timed out
            return self._json_result(command, value)

    def _json_result(self, command: str, obj: dict[str, Any]) -> tuple[dict[str, str], list[Leaf]]:
        for kind in ("Status", "Configuration"):
            if kind in obj:
                body = obj[kind]
                if isinstance(body, dict) and str(body.get("status", "OK")).lower() != "ok":
                    reason = _value(body.get("Reason")) or _value(body.get("XPath")) or "error"
                    raise CommandRejected(str(body["status"]), reason, device=self.name, command=command)
                return {}, _flatten(body) if isinstance(body, dict) else []
        response = obj.get("CommandResponse")
        if not isinstance(response, dict) or len(response) != 1:
            raise ProtocolError("reply has no CommandResponse", device=self.name, data=json.dumps(obj))
        name, body = next(iter(response.items()))
        if not isinstance(body, dict):
            raise ProtocolError("malformed CommandResponse", device=self.name, data=json.dumps(obj))
        status = str(body.get("status", "OK"))
        if status.lower() != "ok":
            raise CommandRejected(status, _value(body.get("Reason")) or _value(body.get("XPath")) or "error",
                                  device=self.name, command=command)
        fields = {k: _value(v) for k, v in body.items() if k != "status"}
        fields["_result"] = name
        return fields, []

    def _json_feedback(self, obj: dict[str, Any]) -> None:
        if "Event" in obj and isinstance(obj["Event"], dict):
            for name, body in obj["Event"].items():
                self._event(name, {k: _value(v) for k, v in body.items()} if isinstance(body, dict) else {})
        if "Status" in obj and isinstance(obj["Status"], dict):
            calls = obj["Status"].get("Call")
            if isinstance(calls, list):
                for item in calls:
                    if isinstance(item, dict) and str(item.get("ghost", "")).lower() == "true":
                        self._call_gone(str(item.get("id")))
            self._status_feedback(_flatten(obj["Status"]))

    # feedback state --------------------------------------------------------------------------------
    def _status_feedback(self, leaves: list[Leaf]) -> None:
        for path, value in leaves:
            if len(path) >= 3 and path[0] == "Call" and path[2] != "ghost":
                self._calls.setdefault(path[1], {})[path[2]] = value

    def _call_gone(self, call_id: str) -> None:
        self._calls.pop(call_id, None)
        self._ended.setdefault(call_id, "")

    def _event(self, name: str, fields: dict[str, str]) -> None:
        self.events.append((name, fields))
        del self.events[:-50]
        if name == "CallDisconnect" and fields.get("CallId"):
            self._ended[fields["CallId"]] = fields.get("CauseType", "")
            self._calls.pop(fields["CallId"], None)

    def _seed_calls(self) -> None:
        self._calls.clear()
        for info in self._status_calls():
            self._calls[info[0]] = info[1]

    def _status_calls(self) -> list[tuple[str, dict[str, str]]]:
        try:
            _, leaves = self._exchange("xStatus Call")
        except CommandRejected:
            return []   # no call: some firmware answers "No match on address expression"
        calls: dict[str, dict[str, str]] = {}
        for path, value in leaves:
            if len(path) >= 3 and path[0] == "Call":
                calls.setdefault(path[1], {})[path[2]] = value
        return list(calls.items())

    def _pump(self, deadline: float) -> bool:
        """Read feedback until something arrives or ``deadline``; False at the deadline."""
        _, rx = self._io()
        if time.monotonic() >= deadline:
            return False
        got = rx.fill(deadline)
        self._flush_feedback()
        return got

    # identity / health -------------------------------------------------------------------------------
    def _status(self, path: str) -> dict[str, str]:
        _, leaves = self._exchange(f"xStatus {path}")
        return {" ".join(p): v for p, v in leaves}

    def identify(self) -> Identity:
        self._ensure_connected()
        st = self._status("SystemUnit")
        return Identity(vendor=self.vendor, model=st.get("SystemUnit ProductId", ""),
                        serial=st.get("SystemUnit Hardware Module SerialNumber", ""),
                        firmware=st.get("SystemUnit Software Version", ""),
                        extra={"release": self.release, "output_mode": self.mode})

    def health(self) -> Health:
        self._ensure_connected()
        sip = self._optional_status("SIP Registration 1 Status").get("SIP Registration 1 Status", "Inactive")
        gk = self._optional_status("H323 Gatekeeper Status").get("H323 Gatekeeper Status", "Inactive")
        standby_st = self._optional_status("Standby")
        standby = standby_st.get("Standby State") or ("Standby" if standby_st.get("Standby Active") == "On"
                                                      else "Off")
        diag = self._optional_status("Diagnostics")
        messages: list[str] = []
        for key, value in diag.items():
            if key.endswith(" Description"):
                level = diag.get(key[: -len("Description")] + "Level", "")
                messages.append(f"{level}: {value}" if level else value)
        degraded: list[str] = []
        if sip.lower() in ("failed", "deregister"):
            degraded.append(f"SIP registration {sip}")
        if gk.lower() == "rejected":
            degraded.append(f"H.323 gatekeeper {gk}")
        # Only a critical message means the room cannot hold a meeting; the rest degrade it.
        down = [f"diagnostics: {m}" for m in messages if m.lower().startswith("critical:")]
        degraded += [f"diagnostics: {m}" for m in messages if not m.lower().startswith("critical:")]
        return Health(verdict_of(down, degraded), tuple(down + degraded),
                      {"sip": sip, "h323": gk, "standby": standby, "diagnostics": messages})

    def _optional_status(self, path: str) -> dict[str, str]:
        try:
            return self._status(path)
        except CommandRejected as exc:
            if "no match" in exc.text.lower():
                return {}
            raise

    # calls -----------------------------------------------------------------------------------------
    def calls(self) -> list[CallInfo]:
        self._ensure_connected()
        raw = self._status_calls()
        if not raw:
            return []
        resolutions = self._resolutions()
        return [self._call_info(cid, fields, resolutions.get(cid, "")) for cid, fields in raw]

    def _resolutions(self) -> dict[str, str]:
        """Best incoming video resolution per call from ``xStatus MediaChannels``."""
        leaves = self._optional_status("MediaChannels")
        best: dict[str, tuple[int, str]] = {}
        for key, value in leaves.items():
            words = key.split()
            if len(words) >= 2 and words[-1] == "ResolutionY" and words[0] == "MediaChannels":
                x = leaves.get(" ".join([*words[:-1], "ResolutionX"]), "")
                cid = words[2]
                if value.isdigit() and (cid not in best or int(value) > best[cid][0]):
                    best[cid] = (int(value), f"{x}x{value}")
        return {cid: res for cid, (_, res) in best.items()}

    def _call_info(self, cid: str, f: Mapping[str, str], resolution: str) -> CallInfo:
        rates = [int(f[k]) for k in ("ReceiveCallRate", "TransmitCallRate") if f.get(k, "").isdigit()]
        rate = max(rates) if rates else 0
        state = call_state(f.get("Status", ""))
        if not resolution and state == "connected" and rate:
            resolution = resolution_for_rate(rate, self.max_resolution)
        remote = f.get("CallbackNumber") or f.get("RemoteNumber", "")
        for prefix in ("sip:", "h323:"):
            if remote.lower().startswith(prefix):
                remote = remote[len(prefix):]
        return CallInfo(cid, f.get("Direction", "").lower(), remote, state, rate, resolution,
                        f.get("Protocol", "").lower())

    def dial(self, uri: str, protocol: str = "sip", rate: int = 1920) -> str:
        self._ensure_connected()
        proto = {"sip": "Sip", "h323": "H323"}.get(protocol.lower())
        if proto is None or '"' in uri:
            raise CommandRejected("parameter", f"cannot dial {uri!r} over {protocol!r}", device=self.name)
        fields, _ = self._exchange(f'xCommand Dial Number: "{uri}" Protocol: {proto} CallRate: {int(rate)}')
        call_id = fields.get("CallId", "")
        if not call_id.isdigit():
            raise ProtocolError("DialResult without CallId", device=self.name, data=str(fields))
        info = self.wait_for_call(call_id, ("ringing", "connected"), self.dial_timeout)
        if info is None:
            cause = self._ended.get(call_id) or "Disconnected"
            raise CommandRejected(cause, f"call to {uri} failed: {cause}", device=self.name,
                                  command=f"xCommand Dial Number: {uri}")
        return call_id

    def wait_for_call(self, call_id: str, states: tuple[str, ...], timeout: float) -> CallInfo | None:
        deadline = time.monotonic() + timeout
        while True:
            self._flush_feedback()   # feedback may have come in with the last reply
            if call_id in self._ended and call_id not in self._calls:
                return None
            fields = self._calls.get(call_id)
            info = self._call_info(call_id, fields, "") if fields else None
            if info is not None and info.state in states:
                if info.state == "connected":
                    res = self._resolutions().get(call_id)
                    if res:
                        info = self._call_info(call_id, fields or {}, res)
                return info
            if not self._pump(deadline) and time.monotonic() >= deadline:
                return info

    def hangup(self, call_id: str | None = None) -> None:
        self._ensure_connected()
        if call_id is not None:
            targets = [str(call_id)]
            self._exchange(f"xCommand Call Disconnect CallId: {int(call_id)}")
        else:
            targets = [cid for cid, _ in self._status_calls()]
            if not targets:
                return
            use_all = self.disconnect_all_option == "disconnectall" or (
                self.disconnect_all_option == "auto" and self.is_tc)
            self._exchange("xCommand Call DisconnectAll" if use_all else "xCommand Call Disconnect")
        deadline = time.monotonic() + self.endpoint.timeout
        for cid in targets:
            # Return once the call is gone, so the far end has heard it too.
            self.wait_for_call(cid, (), max(deadline - time.monotonic(), 0.0))

    def answer(self, call_id: str | None = None) -> None:
        self._exchange("xCommand Call Accept" + (f" CallId: {int(call_id)}" if call_id else ""))

    # room controls ---------------------------------------------------------------------------------
    def standby(self, on: bool) -> None:
        self._ensure_connected()
        self._exchange(f"xCommand Standby {'Activate' if on else 'Deactivate'}")

    def mute(self, on: bool) -> None:
        self._ensure_connected()
        self._exchange(f"xCommand Audio Microphones {'Mute' if on else 'Unmute'}")

    def set_volume(self, level: int) -> None:
        self._ensure_connected()
        self._exchange(f"xCommand Audio Volume Set Level: {int(level)}")

    def preset_activate(self, preset: int) -> None:
        self._ensure_connected()
        self._exchange(f"xCommand Camera Preset Activate PresetId: {int(preset)}")

    def preset_store(self, preset: int) -> None:
        self._ensure_connected()
        self._exchange(f'xCommand Camera Preset Store CameraId: {self.camera_id} PresetId: {int(preset)} '
                       f'Name: "RoomOps {int(preset)}"')

    def set_main_source(self, source: int) -> None:
        self._ensure_connected()
        self._exchange(f"xCommand Video Input SetMainVideoSource ConnectorId: {int(source)}")

    def presentation(self, on: bool, source: int | None = None) -> None:
        self._ensure_connected()
        if on:
            extra = f" PresentationSource: {int(source)}" if source is not None else ""
            self._exchange(f"xCommand Presentation Start{extra} SendingMode: LocalRemote")
        else:
            self._exchange("xCommand Presentation Stop")

    # configuration -----------------------------------------------------------------------------------
    def _paths(self) -> dict[str, str]:
        tc = self.sip_paths_option == "tc" or (self.sip_paths_option == "auto" and self.is_tc)
        return _config_paths(tc)

    def read_config(self) -> dict[str, Any]:
        self._ensure_connected()
        paths = self._paths()
        values: dict[str, str] = {}
        for root in ("Network 1", paths["sip.uri"].rsplit(" ", 1)[0], paths["h323.gatekeeper"].split()[0],
                     "SystemUnit Name"):
            _, leaves = self._exchange(f"xConfiguration {root}")
            values.update({" ".join(p).lower(): v for p, v in leaves})
        config: dict[str, Any] = {}
        for key, path in paths.items():
            if key == "sip.password":
                continue   # write-only
            if path.lower() in values:
                config[key] = values[path.lower()]
        return config

    def _write_setting(self, key: str, value: Any) -> None:
        text = str(value)
        if '"' in text or "\n" in text or "\r" in text:
            raise CommandRejected("value", f"{key} value contains a quote or line break", device=self.name)
        path = self._paths()[key]
        if key == "network.ipv4.address":
            self._new_host = text
        self._exchange(f'xConfiguration {path}: "{text}"')

    _new_host: str = ""

    def _after_apply(self, changed: list[str]) -> None:
        if "network.ipv4.address" in changed and self._new_host:
            # The unit answers on its new address right away; this session is gone.
            self.close()
            self._carry_host_key(self.host, self._new_host)
            self.host = self._new_host
            self.reconnect_until(time.monotonic() + self.endpoint.boot_time + 30.0)

    def _carry_host_key(self, old: str, new: str) -> None:
        """We moved the unit ourselves over an authenticated session: pin its key under the new
        address too, so the reconnect is not refused as an unknown host."""
        path = self.endpoint.known_hosts
        if self.endpoint.transport != "ssh" or not path or not os.path.exists(path):
            return

        def name(host: str) -> str:
            return host if self.port == 22 else f"[{host}]:{self.port}"

        keys = paramiko.HostKeys(path)
        entry = keys.lookup(name(old))
        if entry is None:
            return
        for key_type in entry.keys():
            keys.add(name(new), key_type, entry[key_type])
        keys.save(path)
        self.transcript.note(f"host key pinned for {name(new)} (unit moved from {old})")

    # reboot ----------------------------------------------------------------------------------------
    def _send_reboot(self) -> None:
        self._ensure_connected()
        try:
            self._exchange("xCommand SystemUnit Boot Action: Restart")
        except Disconnected:
            pass   # the unit went down before its reply reached us: that is the reboot


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"')
    return value


def _value(node: Any) -> str:
    if isinstance(node, dict) and "Value" in node:
        return str(node["Value"])
    return "" if node is None else str(node)


def _flatten(node: Any, path: tuple[str, ...] = ()) -> list[Leaf]:
    """JSON status/config tree to leaves: list items by id, leaves ``{"Value": x}``."""
    out: list[Leaf] = []
    if isinstance(node, dict):
        if set(node) == {"Value"}:
            return [(path, str(node["Value"]))]
        for key, child in node.items():
            if key in ("id", "ghost", "ResultId", "status"):
                continue
            out += _flatten(child, (*path, key))
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict):
                out += _flatten(item, (*path, str(item.get("id", ""))))
    else:
        out.append((path, str(node)))
    return out
