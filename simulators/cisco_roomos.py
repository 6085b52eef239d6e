"""Cisco TelePresence / Webex (TC, CE, RoomOS) codec: the xAPI over SSH ("TSH" terminal).

Written from protocols.md section 1, not from the driver. After the SSH login the shell prints
the banner (``Welcome to``, ``Cisco Codec Release ...``, ``SW Release Date``, ``*r Login
successful``, blank line, ``OK``). Commands are lines; echo is on until ``echo off``; output is
terminal mode until ``xPreferences OutputMode JSON`` (CE8.1 and later: a ``TC...`` firmware
answers with the usage text instead). Output mode, echo and ``xFeedback`` registrations belong
to the session and vanish on reconnect. Over plain TCP (``transport: tcp`` or ``telnet``) the
unit asks ``login:`` / ``Password:`` first, as its Telnet service does.

Terminal replies: ``*s``/``*c``/``*r`` lines, ``** end``, blank line, ``OK`` (``ERROR`` after an
error block); unknown commands get ``Command not recognized.``. JSON replies are one
pretty-printed object per request carrying ``"ResultId"`` when the request ended with
``| resultId="<id>"``. Feedback (``*s``/``*e`` blocks ending ``** end``, or ``{"Status":...}`` /
``{"Event":...}`` objects) is pushed to sessions that registered a matching path.

Chosen where the notes say [unverified]: error blocks ``*r <Name> (status=Error):`` /
``*r <Name> Reason: "..."`` / ``*r <Name> XPath: "..."`` / ``** end`` / ``ERROR``; result names
``CallDisconnectResult`` and ``CallDisconnectAllResult``; SIP configuration paths ``SIP URI``,
``SIP Proxy 1 Address``, ``SIP Authentication UserName/Password`` (RoomOS) and
``SIP Profile 1 ...`` (TC); H.323 ``H323 Gatekeeper Address`` / ``H323 H323Alias ID`` (TC:
``H323 Profile 1 ...``); ``Diagnostics Message n Description/Level/Type``; negotiated
resolution in ``MediaChannels Call n Channel m Video ResolutionX/ResolutionY``; the password
read back as ``"********"``; a new IPv4 address takes effect right after the reply (the session
drops and the unit answers on the new address).
"""

from __future__ import annotations

import json
import re
from typing import Any, Self

from simulators.codec_common import (
    CodecOptions,
    CodecSimulator,
    SimCall,
    broadcast,
    options_from_spec,
    writer_of,
)
from simulators.fabric import CallFabric, Cause, DialFailed
from simulators.harness import ConnectionClosed, Server, SimConnection, TcpServer
from simulators.host_keys import host_key_option
from simulators.spec import SimSpec

CRLF = "\r\n"
CAUSE_TYPES: dict[Cause, tuple[str, int]] = {
    Cause.LOCAL: ("LocalDisconnect", 1), Cause.REMOTE: ("RemoteDisconnect", 1),
    Cause.BUSY: ("RemoteBusy", 17), Cause.REJECTED: ("RemoteRejected", 21),
    Cause.NO_ANSWER: ("RemoteNoAnswer", 19), Cause.UNKNOWN_REMOTE: ("UnknownRemoteSite", 1),
    Cause.NETWORK: ("NetworkRejected", 38),
}
_RESULT_ID = re.compile(r'\s*\|\s*resultId="([^"]*)"\s*$', re.I)
_ARG = re.compile(r'(\w+)\s*:\s*("([^"]*)"|\S+)')
_IPV4 = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")


class Lit(str):
    """A value printed without quotes in terminal mode (enums such as ``Off``)."""


Leaf = tuple[tuple[str, ...], Any]


class XapiError(Exception):
    def __init__(self, kind: str, reason: str, xpath: str = "") -> None:
        super().__init__(reason)
        self.kind = kind          # result name, e.g. "DialResult", "Status", "Configuration"
        self.reason = reason
        self.xpath = xpath


class CiscoRoomOSSimulator(CodecSimulator):
    default_boot_time = 5.0

    def __init__(self, *, transport: str = "ssh", release: str = "", host_key: Any = None,
                 **kw: Any) -> None:
        kw.setdefault("options", CodecOptions(model="Cisco Room Kit", firmware="ce9.15.3.17"))
        kw.setdefault("username", "admin")
        super().__init__(**kw)
        self.transport = transport
        self.host_key = host_key
        fw = self.opts.firmware
        self.tc = fw.lower().startswith("tc")
        self.release = release or (f"TC{fw[2:]}" if self.tc else f"RoomOS {fw}")

    @classmethod
    def from_spec(cls, spec: SimSpec, site: Any = None) -> Self:
        fabric: CallFabric | None = getattr(site, "fabric", None) if site is not None else None
        opts = options_from_spec(spec, model="Cisco Room Kit", firmware="ce9.15.3.17")
        if "multisite" not in spec.options:
            opts.multisite = 4
        return cls(name=spec.device_id, host=spec.host,
                   port=spec.port or (22 if spec.transport == "ssh" else 23),
                   username=spec.username, password=spec.password, boot_time=spec.boot_time, options=opts,
                   fabric=fabric, transport=spec.transport,
                   host_key=host_key_option(spec.options) if spec.transport == "ssh" else None)

    def build_servers(self) -> list[Server]:
        if self.transport == "ssh":
            from simulators.ssh_server import SshServer

            return [SshServer(self, self.host, self.port, host_key=self.host_key)]
        return [TcpServer(self, self.host, self.port, telnet=self.transport == "telnet")]

    # paths ---------------------------------------------------------------------------------------
    def config_paths(self) -> dict[tuple[str, ...], str]:
        sip = ("SIP", "Profile", "1") if self.tc else ("SIP",)
        auth = ("Authentication", "1") if self.tc else ("Authentication",)
        h323 = ("H323", "Profile", "1") if self.tc else ("H323",)
        return {
            ("Network", "1", "IPv4", "Assignment"): "network.assignment",
            ("Network", "1", "IPv4", "Address"): "network.ipv4.address",
            ("Network", "1", "IPv4", "SubnetMask"): "network.ipv4.mask",
            ("Network", "1", "IPv4", "Gateway"): "network.ipv4.gateway",
            ("Network", "1", "DNS", "Server", "1", "Address"): "network.dns",
            (*sip, "URI"): "sip.uri",
            (*sip, "Proxy", "1", "Address"): "sip.proxy",
            (*sip, *auth, "UserName"): "sip.username",
            (*sip, *auth, "Password"): "sip.password",
            (*h323, "Gatekeeper", "Address"): "h323.gatekeeper",
            (*h323, "H323Alias", "ID"): "h323.alias",
            ("SystemUnit", "Name"): "system.name",
        }

    def config_leaves(self) -> list[Leaf]:
        out: list[Leaf] = []
        for path, key in self.config_paths().items():
            value = self.settings[key]
            if key == "sip.password":
                value = "********" if value else ""
            elif key == "network.assignment":
                value = Lit(value)
            out.append((path, value))
        return out

    def call_leaves(self, call: SimCall) -> list[Leaf]:
        cid = str(call.call_id)
        status = {"dialling": "Dialling", "ringing": "Ringing", "connected": "Connected"}.get(call.state,
                                                                                              "Idle")
        number = call.remote_uri
        return [(("Call", cid, k), v) for k, v in (
            ("Status", Lit(status)), ("Direction", Lit(call.direction.capitalize())),
            ("RemoteNumber", number), ("CallbackNumber", f"{call.protocol}:{number}"),
            ("DisplayName", call.remote_name or number), ("Protocol", Lit("H323" if call.protocol == "h323"
                                                                           else "Sip")),
            ("CallType", Lit("Video")), ("ReceiveCallRate", call.rate), ("TransmitCallRate", call.rate),
        )]

    def status_leaves(self) -> list[Leaf]:
        s = self.settings
        leaves: list[Leaf] = [
            (("SystemUnit", "ProductId"), self.opts.model),
            (("SystemUnit", "ProductPlatform"), self.opts.model.replace("Cisco ", "")),
            (("SystemUnit", "Software", "Version"), self.opts.firmware),
            (("SystemUnit", "Software", "DisplayName"), self.release),
            (("SystemUnit", "Hardware", "Module", "SerialNumber"), self.opts.serial),
            (("SystemUnit", "State", "NumberOfActiveCalls"), len(self.active_calls())),
            (("SIP", "Registration", "1", "Status"), Lit(self.sip_status())),
            (("SIP", "Registration", "1", "URI"), s["sip.uri"]),
            (("H323", "Gatekeeper", "Status"), Lit(self.h323_status())),
            (("H323", "Gatekeeper", "Address"), s["h323.gatekeeper"]),
            (("Audio", "Microphones", "Mute"), Lit("On" if self.mic_mute else "Off")),
            (("Audio", "Volume"), self.volume),
            (("Video", "Input", "MainVideoSource"), self.main_source),
            (("Conference", "Presentation", "Mode"), Lit("Sending" if self.presentation_source else "Off")),
            (("Cameras", "Camera", "1", "Position", "Pan"), self.camera_position),
            (("Network", "1", "IPv4", "Address"), s["network.ipv4.address"]),
            (("Network", "1", "IPv4", "SubnetMask"), s["network.ipv4.mask"]),
            (("Network", "1", "IPv4", "Gateway"), s["network.ipv4.gateway"]),
            (("Network", "1", "DNS", "Server", "1", "Address"), s["network.dns"]),
        ]
        if self.tc:
            leaves.append((("Standby", "Active"), Lit("On" if self.standby else "Off")))
        else:
            leaves.append((("Standby", "State"), Lit("Standby" if self.standby else "Off")))
        for n, (kind, level, text) in enumerate(self.diagnostics(), start=1):
            leaves += [(("Diagnostics", "Message", str(n), "Description"), text),
                       (("Diagnostics", "Message", str(n), "Level"), Lit(level)),
                       (("Diagnostics", "Message", str(n), "Type"), Lit(kind))]
        for call in self.active_calls():
            leaves += self.call_leaves(call)
            if call.state == "connected" and call.resolution:
                x, y = call.resolution.split("x")
                base = ("MediaChannels", "Call", str(call.call_id), "Channel", "1")
                leaves += [((*base, "Direction"), Lit("Incoming")), ((*base, "Type"), Lit("Video")),
                           ((*base, "Video", "ResolutionX"), int(x)), ((*base, "Video", "ResolutionY"),
                                                                       int(y))]
        return leaves

    # session -------------------------------------------------------------------------------------
    def handle_connection(self, conn: SimConnection) -> None:
        out = writer_of(conn)
        conn.state.update(echo=True, mode="terminal", feedback=[])
        if self.transport != "ssh" and not self._telnet_login(conn):
            return
        out.send(f"Welcome to {self.settings['system.name']}{CRLF}Cisco Codec Release {self.release}{CRLF}"
                 f"SW Release Date: 2024-01-01{CRLF}*r Login successful{CRLF}{CRLF}OK{CRLF}{CRLF}")
        while True:
            raw = conn.read_until(re.compile(rb"\r\n|\n|\r"))
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            if self.down:
                return
            if conn.state["echo"]:
                out.send(line + CRLF)
            self.execute(conn, line)

    def _telnet_login(self, conn: SimConnection) -> bool:
        for _attempt in range(3):
            conn.send_raw("login: ")
            user = conn.read_until(re.compile(rb"\r\n|\n|\r"), timeout=60).decode("utf-8", "replace").strip()
            conn.send_raw("Password: ")
            given = conn.read_until(re.compile(rb"\r\n|\n|\r"), timeout=60).decode("utf-8", "replace").strip()
            if user == self.username and given == self.password and not self.faults.reject_password:
                conn.send_raw(CRLF)
                return True
            conn.send_raw(CRLF + "Login incorrect" + CRLF)
        conn.close()
        return False

    def execute(self, conn: SimConnection, line: str) -> None:
        out = writer_of(conn)
        result_id = None
        m = _RESULT_ID.search(line)
        if m:
            result_id, line = m.group(1), line[: m.start()]
        words = line.split()
        verb = words[0].lower()
        json_mode = conn.state["mode"] == "json"
        after: list[Any] = []
        try:
            if verb == "echo" and len(words) == 2 and words[1].lower() in ("on", "off"):
                conn.state["echo"] = words[1].lower() == "on"
                out.send("OK" + CRLF)
                return
            if verb == "bye":
                conn.close()
                raise ConnectionClosed("bye")
            if verb == "xpreferences":
                out.send(self.preferences(conn, words[1:]))
                return
            if verb == "xstatus":
                leaves = self.select(self.status_leaves(), words[1:], "Status")
                out.send(self.render(conn, "s", "Status", leaves, result_id))
            elif verb == "xconfiguration":
                out.send(self.configuration(conn, line, result_id, after))
            elif verb == "xcommand":
                name, fields = self.command(conn, line, words[1:], after)
                out.send(self.render_result(conn, name, fields, result_id))
            elif verb == "xfeedback":
                out.send(self.feedback(conn, words[1:], result_id))
            else:
                out.send("Command not recognized." + CRLF)   # also in JSON mode [unverified]
                return
        except XapiError as err:
            out.send(self.render_error(json_mode, err, result_id))
            return
        for action in after:
            action()

    # xPreferences / xFeedback ----------------------------------------------------------------------
    def preferences(self, conn: SimConnection, args: list[str]) -> str:
        modes = ("terminal", "xml") if self.tc else ("terminal", "xml", "json")
        if len(args) == 2 and args[0].lower() == "outputmode" and args[1].lower() in modes:
            conn.state["mode"] = args[1].lower()
            return "OK" + CRLF
        return f"xpreferences usage:{CRLF}xpreferences outputmode <{'/'.join(modes)}>{CRLF}OK{CRLF}"

    def feedback(self, conn: SimConnection, args: list[str], result_id: str | None) -> str:
        regs: list[str] = conn.state["feedback"]  # type: ignore[assignment]
        sub = args[0].lower() if args else ""
        if sub == "register" and len(args) == 2:
            if len(regs) >= 38:
                raise XapiError("FeedbackRegisterResult", "Maximum number of feedback expressions reached")
            regs.append(args[1].strip("/").lower())
        elif sub == "deregister" and len(args) == 2:
            path = args[1].strip("/").lower()
            if path in regs:
                regs.remove(path)
        elif sub == "deregisterall":
            regs.clear()
        elif sub == "list":
            if conn.state["mode"] == "json":
                return self._json({"CommandResponse": {"FeedbackListResult": {
                    "status": "OK", "Expression": [{"id": str(i), "Value": "/" + r} for i, r in
                                                   enumerate(regs, 1)]}}}, result_id)
            return "".join(f"/{r}{CRLF}" for r in regs) + f"** end{CRLF}{CRLF}OK{CRLF}"
        else:
            raise XapiError("Feedback", "Unknown xFeedback command")
        if conn.state["mode"] == "json":
            return self._json({"CommandResponse": {"FeedbackResult": {"status": "OK"}}}, result_id)
        return f"** end{CRLF}{CRLF}OK{CRLF}"

    # status / configuration --------------------------------------------------------------------------
    @staticmethod
    def select(leaves: list[Leaf], query: list[str], kind: str) -> list[Leaf]:
        want = [q.lower() for q in query]
        found = [(p, v) for p, v in leaves if [w.lower() for w in p[: len(want)]] == want]
        if not found and want:
            raise XapiError(kind, "No match on address expression.", f"{kind}/{'/'.join(query)}")
        return found

    def configuration(self, conn: SimConnection, line: str, result_id: str | None, after: list[Any]) -> str:
        body = line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else ""
        if ":" not in body:
            leaves = self.select(self.config_leaves(), body.split(), "Configuration")
            return self.render(conn, "c", "Configuration", leaves, result_id)
        path_text, _, value_text = body.partition(":")
        path = tuple(path_text.split())
        value = value_text.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        key = next((k for p, k in self.config_paths().items()
                    if [w.lower() for w in p] == [w.lower() for w in path]), None)
        if key is None:
            raise XapiError("Configuration", "No match on address expression.",
                            "Configuration/" + "/".join(path))
        value = self._validate(key, value, path)
        self.set_setting(key, value)
        if key == "network.ipv4.address" and self.pending_address:
            after.append(self.apply_pending_address)   # the IP change takes effect after the reply
        if conn.state["mode"] == "json":
            return self._json({"CommandResponse": {"Configuration": {"status": "OK"}}}, result_id)
        return f"** end{CRLF}{CRLF}OK{CRLF}"

    @staticmethod
    def _validate(key: str, value: str, path: tuple[str, ...]) -> str:
        if key == "network.assignment":
            for choice in ("Static", "DHCP"):
                if value.lower() == choice.lower():
                    return choice
            raise XapiError("Configuration", "Invalid value", "Configuration/" + "/".join(path))
        if key.startswith("network.") and value:
            m = _IPV4.match(value)
            if not m or any(int(g) > 255 for g in m.groups()):
                raise XapiError("Configuration", "Invalid IPv4 address", "Configuration/" + "/".join(path))
        return value

    # xCommand ----------------------------------------------------------------------------------------
    def command(self, conn: SimConnection, line: str, words: list[str], after: list[Any]
                ) -> tuple[str, dict[str, Any]]:
        path: list[str] = []
        for w in words:
            if ":" in w:
                break
            path.append(w)
        args = {m.group(1).lower(): (m.group(3) if m.group(3) is not None else m.group(2))
                for m in _ARG.finditer(line)}
        p = " ".join(path).lower()
        handlers = {
            "dial": self.x_dial, "call disconnect": self.x_disconnect,
            "call disconnectall": self.x_disconnect_all, "call accept": self.x_accept,
            "call reject": self.x_reject, "standby activate": lambda a, f: self._standby(True),
            "standby deactivate": lambda a, f: self._standby(False),
            "audio microphones mute": lambda a, f: self._mute(True),
            "audio microphones unmute": lambda a, f: self._mute(False),
            "audio volume set": self.x_volume, "camera preset store": self.x_preset_store,
            "camera preset activate": self.x_preset_activate,
            "video input setmainvideosource": self.x_main_source,
            "presentation start": self.x_presentation_start, "presentation stop": self.x_presentation_stop,
            "systemunit boot": self.x_boot,
        }
        handler = handlers.get(p)
        name = {"call disconnect": "CallDisconnectResult", "call disconnectall": "CallDisconnectAllResult",
                "systemunit boot": "BootResult", "audio microphones mute": "MicrophonesMuteResult",
                "audio microphones unmute": "MicrophonesUnmuteResult",
                "video input setmainvideosource": "SetMainVideoSourceResult"}.get(
            p, "".join(w[:1].upper() + w[1:] for w in path[-2:]) + "Result")
        if handler is None:
            raise XapiError(name if path else "Command", "Unknown command", "Command/" + "/".join(path))
        try:
            fields = handler(args, after) or {}
        except XapiError as err:
            err.kind = name
            raise
        return name, fields

    def x_dial(self, args: dict[str, str], after: list[Any]) -> dict[str, Any]:
        number = args.get("number", "")
        if not number:
            raise XapiError("DialResult", "Missing or invalid parameter(s): Number")
        protocol = args.get("protocol", "sip").lower()
        if protocol not in ("sip", "h323"):
            raise XapiError("DialResult", f"Protocol {protocol} not available")
        rate_text = args.get("callrate", str(self.max_rate))
        if not rate_text.isdigit() or not 64 <= int(rate_text) <= 6000:
            raise XapiError("DialResult", "Invalid CallRate")
        try:
            call = self.start_call(number, protocol, int(rate_text))
        except DialFailed as exc:
            raise XapiError("DialResult", exc.text) from exc
        after.append(lambda: self.connect_call(call))
        return {"CallId": call.call_id, "ConferenceId": call.call_id}

    def _call_id(self, args: dict[str, str]) -> int | None:
        text = args.get("callid")
        if text is None:
            return None
        if not text.isdigit() or int(text) not in self.calls:
            raise XapiError("Call", f"No active call(s) with CallId {text}")
        return int(text)

    def x_disconnect(self, args: dict[str, str], after: list[Any]) -> None:
        call_id = self._call_id(args)
        after.append(lambda: self.hangup(call_id))

    def x_disconnect_all(self, args: dict[str, str], after: list[Any]) -> None:
        after.append(lambda: self.hangup(None))

    def x_accept(self, args: dict[str, str], after: list[Any]) -> None:
        call_id = self._call_id(args)
        after.append(lambda: self.answer(call_id))

    def x_reject(self, args: dict[str, str], after: list[Any]) -> None:
        call_id = self._call_id(args)
        after.append(lambda: self.hangup(call_id))

    def _standby(self, on: bool) -> None:
        if on and self.active_calls():
            raise XapiError("Standby", "Cannot enter standby during a call")
        self.standby = on
        path = ("Standby", "Active") if self.tc else ("Standby", "State")
        value = Lit(("On" if on else "Off") if self.tc else ("Standby" if on else "Off"))
        self.push_status([(path, value)])

    def _mute(self, on: bool) -> None:
        self.mic_mute = on
        self.push_status([(("Audio", "Microphones", "Mute"), Lit("On" if on else "Off"))])

    def x_volume(self, args: dict[str, str], after: list[Any]) -> None:
        level = args.get("level", "")
        if not level.isdigit() or not 0 <= int(level) <= 100:
            raise XapiError("VolumeSetResult", "Invalid Level")
        self.volume = int(level)

    def _preset_id(self, args: dict[str, str]) -> int:
        text = args.get("presetid", "")
        if not text.isdigit() or not 1 <= int(text) <= self.opts.presets:
            raise XapiError("Preset", f"Invalid PresetId {text}")
        return int(text)

    def x_preset_store(self, args: dict[str, str], after: list[Any]) -> dict[str, Any]:
        n = self._preset_id(args)
        with self.state_lock:
            self.presets[n] = self.camera_position
        return {"PresetId": n}

    def x_preset_activate(self, args: dict[str, str], after: list[Any]) -> None:
        n = self._preset_id(args)
        with self.state_lock:
            if n not in self.presets:
                raise XapiError("Preset", "Preset not found")
            self.camera_position = self.presets[n]

    def x_main_source(self, args: dict[str, str], after: list[Any]) -> None:
        if ("connectorid" in args) == ("sourceid" in args):
            raise XapiError("SetMainVideoSourceResult",
                            "Must supply either SourceId or ConnectorId (but not both.)")
        value = args.get("connectorid") or args.get("sourceid") or ""
        if not value.isdigit() or not 1 <= int(value) <= 6:
            raise XapiError("SetMainVideoSourceResult", f"Invalid ConnectorId {value}")
        self.main_source = int(value)

    def x_presentation_start(self, args: dict[str, str], after: list[Any]) -> None:
        source = args.get("presentationsource", "2")
        if not source.isdigit():
            raise XapiError("PresentationStartResult", "Invalid PresentationSource")
        self.presentation_source = int(source)

    def x_presentation_stop(self, args: dict[str, str], after: list[Any]) -> None:
        self.presentation_source = None

    def x_boot(self, args: dict[str, str], after: list[Any]) -> None:
        if args.get("action", "restart").lower() not in ("restart", "shutdown"):
            raise XapiError("BootResult", "Invalid Action")
        after.append(self._boot_after_reply)

    def _boot_after_reply(self) -> None:
        if self.reboot_command():
            raise ConnectionClosed("rebooting")

    # rendering ---------------------------------------------------------------------------------------
    @staticmethod
    def _fmt(value: Any) -> str:
        if isinstance(value, Lit | int):
            return str(value)
        return '"' + str(value).replace('"', '\\"') + '"'

    def render(self, conn: SimConnection, prefix: str, kind: str, leaves: list[Leaf],
               result_id: str | None) -> str:
        if conn.state["mode"] == "json":
            return self._json({kind: self._tree(leaves)}, result_id)
        lead = f"*{prefix} " + ("xConfiguration " if prefix == "c" else "")
        lines = [f"{lead}{' '.join(path)}: {self._fmt(v)}" for path, v in leaves]
        return CRLF.join([*lines, "** end", "", "OK"]) + CRLF

    def render_result(self, conn: SimConnection, name: str, fields: dict[str, Any],
                      result_id: str | None) -> str:
        if conn.state["mode"] == "json":
            body: dict[str, Any] = {"status": "OK"}
            body.update({k: {"Value": str(v)} for k, v in fields.items()})
            return self._json({"CommandResponse": {name: body}}, result_id)
        lines = [f"*r {name} (status=OK):"] + [f"*r {name} {k}: {self._fmt(v)}" for k, v in fields.items()]
        return CRLF.join([*lines, "** end", "", "OK"]) + CRLF

    def render_error(self, json_mode: bool, err: XapiError, result_id: str | None) -> str:
        if json_mode:
            body: dict[str, Any] = {"status": "Error", "Reason": {"Value": err.reason}}
            if err.xpath:
                body["XPath"] = {"Value": err.xpath}
            if err.kind in ("Status", "Configuration"):
                return self._json({err.kind: body}, result_id)
            return self._json({"CommandResponse": {err.kind: body}}, result_id)
        lines = [f"*r {err.kind} (status=Error):", f'*r {err.kind} Reason: "{err.reason}"']
        if err.xpath:
            lines.append(f'*r {err.kind} XPath: "{err.xpath}"')
        return CRLF.join([*lines, "** end", "", "ERROR"]) + CRLF

    @staticmethod
    def _tree(leaves: list[Leaf]) -> dict[str, Any]:
        root: dict[str, Any] = {}
        for path, value in leaves:
            node: Any = root
            i = 0
            while i < len(path):
                key = path[i]
                last = i == len(path) - 1
                nxt = path[i + 1] if not last else None
                if nxt is not None and nxt.isdigit():
                    items = node.setdefault(key, [])
                    item = next((it for it in items if it["id"] == nxt), None)
                    if item is None:
                        item = {"id": nxt}
                        items.append(item)
                    node = item
                    i += 2
                    if i == len(path):
                        break
                    continue
                if last:
                    node[key] = {"Value": str(value)}
                else:
                    node = node.setdefault(key, {})
                i += 1
        return root

    @staticmethod
    def _json(obj: dict[str, Any], result_id: str | None) -> str:
        if result_id is not None:
            obj["ResultId"] = result_id
        return json.dumps(obj, indent=2).replace("\n", CRLF) + CRLF

    # feedback ----------------------------------------------------------------------------------------
    def push_status(self, leaves: list[Leaf], ghost_call: str | None = None) -> None:
        def build(conn: SimConnection) -> str | None:
            regs: list[str] = conn.state.get("feedback", [])  # type: ignore[assignment]
            mine = [(p, v) for p, v in leaves if any(("status/" + "/".join(p).lower()).startswith(r)
                                                     for r in regs)]
            ghost = ghost_call is not None and any(
                "status/call".startswith(r) or r.startswith("status/call") for r in regs)
            if not mine and not ghost:
                return None
            if conn.state.get("mode") == "json":
                tree = self._tree(mine)
                if ghost:
                    tree.setdefault("Call", []).append({"id": ghost_call, "ghost": "True"})
                return self._json({"Status": tree}, None)
            lines = [f"*s {' '.join(p)}: {self._fmt(v)}" for p, v in mine]
            if ghost:
                lines.append(f"*s Call {ghost_call} (ghost=True):")
            return CRLF.join([*lines, "** end"]) + CRLF

        broadcast(self, build)

    def push_event(self, name: str, fields: list[tuple[str, Any]]) -> None:
        def build(conn: SimConnection) -> str | None:
            regs: list[str] = conn.state.get("feedback", [])  # type: ignore[assignment]
            if not any(f"event/{name.lower()}".startswith(r) for r in regs):
                return None
            if conn.state.get("mode") == "json":
                return self._json({"Event": {name: {k: {"Value": str(v)} for k, v in fields}}}, None)
            lines = [f"*e {name} {k}: {self._fmt(v)}" for k, v in fields]
            return CRLF.join([*lines, "** end"]) + CRLF

        broadcast(self, build)

    def call_changed(self, call: SimCall) -> None:
        if call.state != "ended":
            self.push_status(self.call_leaves(call))
            return
        cause_type, cause_value = CAUSE_TYPES.get(call.cause or Cause.LOCAL, ("OtherLocal", 0))
        self.push_event("CallDisconnect", [
            ("CauseValue", cause_value), ("CauseType", cause_type), ("CauseString", ""),
            ("OrigCallDirection", call.direction), ("RemoteURI", call.remote_uri),
            ("DisplayName", call.remote_name or call.remote_uri), ("CallId", call.call_id),
            ("CauseCode", cause_value), ("CauseOrigin", Lit("H323" if call.protocol == "h323" else "SIP")),
        ])
        self.push_status([], ghost_call=str(call.call_id))
