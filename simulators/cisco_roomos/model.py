"""The Cisco codec's xAPI as a device model, whatever the framing: status and configuration
trees as leaves, settings, and the commands (dial, disconnect, standby, presets, boot...).

Written from protocols.md section 1, not from the driver. The framings (terminal/JSON on a
byte stream in ``terminal.py``, XML over HTTP(S) in ``xml_http.py``) turn their requests into
``select`` / ``set_configuration`` / ``run_command`` calls and render what comes back.

Chosen where the notes say [unverified]: result names ``CallDisconnectResult`` and
``CallDisconnectAllResult``; SIP configuration paths ``SIP URI``, ``SIP Proxy 1 Address``,
``SIP Authentication UserName/Password`` (RoomOS) and ``SIP Profile 1 ...`` (TC); H.323
``H323 Gatekeeper Address`` / ``H323 H323Alias ID`` (TC: ``H323 Profile 1 ...``);
``Diagnostics Message n Description/Level/Type``; negotiated resolution in ``MediaChannels Call
n Channel m Video ResolutionX/ResolutionY``; the password read back as ``"********"``; a new IPv4
address takes effect right after the reply (the session drops and the unit answers on the new
address); ``CallHistory Get`` entries with ``CallId`` and ``DisconnectCauseType``.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any, Self

from simulators.codec_common import CodecOptions, CodecSimulator, SimCall, options_from_spec
from simulators.fabric import CallFabric, Cause, DialFailed
from simulators.harness import ConnectionClosed
from simulators.spec import SimSpec

CAUSE_TYPES: dict[Cause, tuple[str, int]] = {
    Cause.LOCAL: ("LocalDisconnect", 1), Cause.REMOTE: ("RemoteDisconnect", 1),
    Cause.BUSY: ("RemoteBusy", 17), Cause.REJECTED: ("RemoteRejected", 21),
    Cause.NO_ANSWER: ("RemoteNoAnswer", 19), Cause.UNKNOWN_REMOTE: ("UnknownRemoteSite", 1),
    Cause.NETWORK: ("NetworkRejected", 38),
}
_IPV4 = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")
#: Finished calls the unit keeps in its call history (the simulator's bound).
HISTORY_CAP = 50


class Lit(str):
    """A value printed without quotes in terminal mode (enums such as ``Off``)."""


Leaf = tuple[tuple[str, ...], Any]


class XapiError(Exception):
    def __init__(self, kind: str, reason: str, xpath: str = "") -> None:
        super().__init__(reason)
        self.kind = kind          # result name, e.g. "DialResult", "Status", "Configuration"
        self.reason = reason
        self.xpath = xpath


class CiscoXapiModel(CodecSimulator):
    default_boot_time = 5.0

    def __init__(self, *, transport: str = "ssh", release: str = "", host_key: Any = None,
                 serial_login: bool = True, tls_identity: Any = None, **kw: Any) -> None:
        kw.setdefault("options", CodecOptions(model="Cisco Room Kit", firmware="ce9.15.3.17"))
        kw.setdefault("username", "admin")
        super().__init__(**kw)
        self.transport = transport
        self.host_key = host_key
        self.serial_login = serial_login       # xConfiguration SerialPort LoginRequired
        self.tls_identity = tls_identity
        self.serial_link = ""
        self.baudrate = 115200
        fw = self.opts.firmware
        self.tc = fw.lower().startswith("tc")
        self.release = release or (f"TC{fw[2:]}" if self.tc else f"RoomOS {fw}")
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY_CAP)

    @classmethod
    def from_spec(cls, spec: SimSpec, site: Any = None) -> Self:
        fabric: CallFabric | None = getattr(site, "fabric", None) if site is not None else None
        opts = options_from_spec(spec, model="Cisco Room Kit", firmware="ce9.15.3.17")
        if "multisite" not in spec.options:
            opts.multisite = 4
        default_port = {"ssh": 22, "https": 443, "http": 80}.get(spec.transport, 23)
        host_key = tls = None
        key_path = spec.options.get("host_key_path")
        if spec.transport == "ssh":
            from simulators.host_keys import host_key_option

            host_key = host_key_option(spec.options)
        elif spec.transport == "https" and key_path:
            from simulators.https_server import load_or_create_identity

            tls = load_or_create_identity(f"{key_path}.pem", spec.host)
        sim = cls(name=spec.device_id, host=spec.host, port=spec.port or default_port,
                  username=spec.username, password=spec.password, boot_time=spec.boot_time, options=opts,
                  fabric=fabric, transport=spec.transport, host_key=host_key, tls_identity=tls,
                  serial_login=bool(spec.options.get("serial_login", True)))
        sim.serial_link = spec.serial_link
        sim.baudrate = spec.baudrate
        return sim

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

    @staticmethod
    def select(leaves: list[Leaf], query: list[str], kind: str) -> list[Leaf]:
        want = [q.lower() for q in query]
        found = [(p, v) for p, v in leaves if [w.lower() for w in p[: len(want)]] == want]
        if not found and want:
            raise XapiError(kind, "No match on address expression.", f"{kind}/{'/'.join(query)}")
        return found

    def set_configuration(self, path: tuple[str, ...], value: str, after: list[Any]) -> None:
        key = next((k for p, k in self.config_paths().items()
                    if [w.lower() for w in p] == [w.lower() for w in path]), None)
        if key is None:
            raise XapiError("Configuration", "No match on address expression.",
                            "Configuration/" + "/".join(path))
        value = self._validate(key, value, path)
        self.set_setting(key, value)
        if key == "network.ipv4.address" and self.pending_address:
            after.append(self.apply_pending_address)   # the IP change takes effect after the reply

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
    def run_command(self, path: list[str], args: dict[str, str], after: list[Any]
                    ) -> tuple[str, dict[str, Any]]:
        """One xCommand: ``path`` its words, ``args`` its parameters (names lowercased)."""
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
            "systemunit boot": self.x_boot, "callhistory get": self.x_history,
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

    def x_history(self, args: dict[str, str], after: list[Any]) -> dict[str, Any]:
        limit = args.get("limit", "10")
        count = int(limit) if limit.isdigit() else 10
        entries = list(self.history)[-count:][::-1]
        return {"Entry": entries}

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

    def push_status(self, leaves: list[Leaf], ghost_call: str | None = None) -> None:
        """Override: tell sessions that follow the changed status."""

    def push_event(self, name: str, fields: list[tuple[str, Any]]) -> None:
        """Override: tell sessions that follow the event."""

    def record_history(self, call: SimCall, cause_type: str) -> None:
        self.history.append({"CallHistoryId": len(self.history) + 1, "CallId": call.call_id,
                             "RemoteNumber": call.remote_uri, "Direction": Lit(call.direction.capitalize()),
                             "DisconnectCauseType": Lit(cause_type)})

