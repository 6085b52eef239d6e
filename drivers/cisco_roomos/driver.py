"""Cisco TelePresence / Webex codecs (TC, CE, RoomOS): the xAPI over SSH, Telnet/TCP, RS-232 or
HTTP(S) (protocols.md section 1).

One driver, several framings: after the session is set up (``session.py`` for byte streams,
``HttpTransport`` for getxml/putxml) every request goes through the channel's ``exchange``
(terminal, JSON or XML), and feedback lands in the ``CallTracker``. Over HTTP there is no push:
calls are polled (``poll_interval``) and the cause of an ended call is read from the call
history.

Endpoint.options (defaults in brackets; [unverified] facts are the configurable ones):
``output_mode`` ``auto`` | ``json`` | ``terminal`` [auto: JSON unless the banner says TC];
``sip_paths`` ``auto`` | ``roomos`` | ``tc`` [auto by release: SIP/H.323 configuration paths,
unverified]; ``camera_id`` [1]; ``disconnect_all`` ``disconnect`` | ``disconnectall`` [auto:
``Call Disconnect`` without CallId on CE, ``Call DisconnectAll`` on TC]; ``login_timeout`` s [10];
``serial_prompt_window`` s [1: how long an RS-232 line may take to show a login prompt];
``reboot_drop_timeout`` s [10]; ``dial_timeout`` s [endpoint timeout]; ``max_resolution``
[1920x1080, only used when ``MediaChannels`` reports no resolution]; HTTP(S):
``tls_fingerprint``, ``tls_ca_file``, ``poll_interval`` s [0.2] (see ``http_channel.py``).
"""

from __future__ import annotations

import time
from typing import Any

from drivers.cisco_roomos.calls import CallTracker, calls_from_leaves, resolutions_from
from drivers.cisco_roomos.channels import TerminalChannel, XapiChannel
from drivers.cisco_roomos.json_channel import JsonChannel
from drivers.cisco_roomos.session import choose_output_mode, raw_ok, stream_login
from drivers.cisco_roomos.xapi import Reply, config_paths
from drivers.codec_common import CodecDriverBase, close_quietly, opt, verdict_of
from drivers.errors import CommandRejected, Disconnected, ProtocolError
from drivers.roles import CallInfo, Endpoint, Health, Identity
from drivers.transcript import Transcript

HTTP_TRANSPORTS = ("http", "https")


class CiscoRoomOSDriver(CodecDriverBase):
    vendor = "Cisco"
    default_stream = "tcp"    # a TC unit's raw API port when the profile names no protocol

    def __init__(self, endpoint: Endpoint, *, name: str = "", transcript: Transcript | None = None) -> None:
        super().__init__(endpoint, name=name, transcript=transcript)
        o = endpoint.options
        self.host = endpoint.host
        default_port = {"ssh": 22, "https": 443, "http": 80}.get(endpoint.transport, 23)
        self.port = endpoint.port or default_port
        self.output_mode_option = str(opt(o, "output_mode", "auto")).lower()
        self.sip_paths_option = str(opt(o, "sip_paths", "auto")).lower()
        self.camera_id = int(opt(o, "camera_id", 1))
        self.login_timeout = float(opt(o, "login_timeout", 10.0))
        self.serial_prompt_window = float(opt(o, "serial_prompt_window", 1.0))
        self.dial_timeout = float(opt(o, "dial_timeout", endpoint.timeout))
        self.disconnect_all_option = str(opt(o, "disconnect_all", "auto")).lower()
        self.tracker = CallTracker(str(opt(o, "max_resolution", "1920x1080")))
        self.channel: XapiChannel | None = None
        self.release = ""
        self._new_host = ""

    # session ------------------------------------------------------------------------------------
    @property
    def is_tc(self) -> bool:
        return self.release.upper().startswith("TC")

    @property
    def mode(self) -> str:
        return self.channel.mode if self.channel is not None else "terminal"

    @property
    def events(self) -> list[tuple[str, dict[str, str]]]:
        return list(self.tracker.events)

    @property
    def connected(self) -> bool:
        return self.channel is not None and self.channel.is_open

    def close(self) -> None:
        channel, self.channel = self.channel, None
        if channel is not None:
            channel.close()
        transport, self._transport = self._transport, None
        close_quietly(transport)

    def _connect_once(self, connect_timeout: float) -> None:
        self.close()
        self.tracker.reset()
        try:
            if self.endpoint.transport in HTTP_TRANSPORTS:
                self._open_http(connect_timeout)
            else:
                self._open_stream(connect_timeout)
            if not self.release:
                version = self._status("SystemUnit Software Version").get("SystemUnit Software Version", "")
                self.release = version.upper() if version.lower().startswith("tc") else f"RoomOS {version}"
            self.tracker.seed(self._status_calls())
        except BaseException:
            self.close()
            raise

    def _open_stream(self, connect_timeout: float) -> None:
        link = self._make_transport(connect_timeout)
        link.open()
        self._transport = link
        timeout = self.endpoint.timeout
        serial = self.endpoint.transport == "serial"
        self.release = stream_login(link, self.endpoint, timeout=self.login_timeout, device=self.name,
                                    serial_prompt_window=self.serial_prompt_window)
        raw_ok(link, "echo off", timeout=timeout, device=self.name)
        tc = self.is_tc or (not self.release and self.output_mode_option == "terminal")
        mode = choose_output_mode(link, self.output_mode_option, tc=tc, serial=serial, timeout=timeout,
                                  device=self.name)
        channel_class = JsonChannel if mode == "json" else TerminalChannel
        self.channel = channel_class(link, self.tracker, self.name)
        deadline = time.monotonic() + timeout
        if serial:
            self.channel.exchange("xFeedback deregisterall", deadline)   # the line keeps them
        self.channel.register_feedback(deadline)

    def _open_http(self, connect_timeout: float) -> None:
        from drivers.cisco_roomos.http_channel import HttpChannel, http_transport_for

        http = http_transport_for(self.endpoint, self.host, self.port, name=self.name,
                                  transcript=self.transcript, connect_timeout=connect_timeout)
        http.open()
        self.channel = HttpChannel(http, self.tracker, self.name,
                                   poll_interval=float(opt(self.endpoint.options, "poll_interval", 0.2)))

    def _exchange(self, command: str, timeout: float | None = None) -> Reply:
        """Send one xAPI request; return (result fields, status/config leaves)."""
        if self.channel is None or not self.channel.is_open:
            raise Disconnected("not connected", device=self.name)
        return self.channel.exchange(command, time.monotonic() + (timeout or self.endpoint.timeout))

    def _flush_feedback(self) -> None:
        if self.channel is not None:
            self.channel.flush_feedback()

    def _pump(self, deadline: float) -> bool:
        """Take in feedback until something arrives or ``deadline``; False at the deadline."""
        if self.channel is None:
            raise Disconnected("not connected", device=self.name)
        return self.channel.wait_feedback(deadline)

    def _read_until_dropped(self, deadline: float) -> bool:
        if self.channel is None:
            return True
        return self.channel.wait_dropped(deadline)

    @property
    def _ended(self) -> dict[str, str]:
        return dict(self.tracker.ended)

    def _status_calls(self) -> list[tuple[str, dict[str, str]]]:
        try:
            _, leaves = self._exchange("xStatus Call")
        except CommandRejected:
            return []   # no call: some firmware answers "No match on address expression"
        return calls_from_leaves(leaves)

    # identity / health -------------------------------------------------------------------------------
    def _status(self, path: str) -> dict[str, str]:
        _, leaves = self._exchange(f"xStatus {path}")
        return {" ".join(p): v for p, v in leaves}

    def _optional_status(self, path: str) -> dict[str, str]:
        try:
            return self._status(path)
        except CommandRejected as exc:
            if "no match" in exc.text.lower():
                return {}
            raise

    def identify(self) -> Identity:
        """``SystemUnit ProductId``, ``Hardware Module SerialNumber`` and ``Software Version``."""
        self._ensure_connected()
        st = self._status("SystemUnit")
        return Identity(vendor=self.vendor, model=st.get("SystemUnit ProductId", ""),
                        serial=st.get("SystemUnit Hardware Module SerialNumber", ""),
                        firmware=st.get("SystemUnit Software Version", ""),
                        extra={"release": self.release, "output_mode": self.mode,
                               "transport": self.endpoint.transport})

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

    # calls -----------------------------------------------------------------------------------------
    def calls(self) -> list[CallInfo]:
        self._ensure_connected()
        raw = self._status_calls()
        if not raw:
            return []
        resolutions = resolutions_from(self._optional_status("MediaChannels"))
        return [self.tracker.info(cid, fields, resolutions.get(cid, "")) for cid, fields in raw]

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
            cause = self.tracker.ended.get(call_id) or "Disconnected"
            raise CommandRejected(cause, f"call to {uri} failed: {cause}", device=self.name,
                                  command=f"xCommand Dial Number: {uri}")
        return call_id

    def wait_for_call(self, call_id: str, states: tuple[str, ...], timeout: float) -> CallInfo | None:
        deadline = time.monotonic() + timeout
        tracker = self.tracker
        while True:
            self._flush_feedback()   # feedback may have come in with the last reply
            if call_id in tracker.ended and call_id not in tracker.live:
                return None
            fields = tracker.live.get(call_id)
            info = tracker.info(call_id, fields, "") if fields else None
            if info is not None and info.state in states:
                if info.state == "connected":
                    res = resolutions_from(self._optional_status("MediaChannels")).get(call_id)
                    if res:
                        info = tracker.info(call_id, fields or {}, res)
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
        return config_paths(tc)

    def read_config(self) -> dict[str, Any]:
        self._ensure_connected()
        paths = self._paths()
        values: dict[str, str] = {}
        for root in ("Network 1", paths["sip.uri"].rsplit(" ", 1)[0], paths["h323.gatekeeper"].split()[0],
                     "SystemUnit Name"):
            _, leaves = self._exchange(f"xConfiguration {root}")
            values.update({" ".join(p).lower(): v for p, v in leaves})
        return {key: values[path.lower()] for key, path in paths.items()
                if key != "sip.password" and path.lower() in values}   # the password is write-only

    def _write_setting(self, key: str, value: Any) -> None:
        text = str(value)
        if '"' in text or "\n" in text or "\r" in text:
            raise CommandRejected("value", f"{key} value contains a quote or line break", device=self.name)
        if key == "network.ipv4.address":
            self._new_host = text
        self._exchange(f'xConfiguration {self._paths()[key]}: "{text}"')

    def _after_apply(self, changed: list[str]) -> None:
        if "network.ipv4.address" not in changed or not self._new_host:
            return
        if self.endpoint.transport == "serial":
            self.host = self._new_host   # the RS-232 line does not care: the session goes on
            return
        # The unit answers on its new address right away; this session is gone. We moved it
        # ourselves over an authenticated session: pin its SSH key / TLS certificate under the
        # new address too, so the reconnect is not refused as an unknown host.
        self.close()
        if self._carry_pin(self.host, self._new_host):
            self.transcript.note(f"key pinned for {self._new_host} (unit moved from {self.host})")
        self.host = self._new_host
        self.reconnect_until(time.monotonic() + self.endpoint.boot_time + 30.0)

    def _carry_pin(self, old: str, new: str) -> bool:
        if self.endpoint.transport == "ssh":
            from drivers.transports.ssh import carry_host_key

            return carry_host_key(self.endpoint.known_hosts, self.port, old, new)
        if self.endpoint.transport == "https":
            from drivers.cisco_roomos.http_channel import pin_file_of
            from drivers.transports.http import carry_pin

            return carry_pin(pin_file_of(self.endpoint), self.port, old, new)
        return False

    # reboot ----------------------------------------------------------------------------------------
    def _send_reboot(self) -> None:
        self._ensure_connected()
        try:
            self._exchange("xCommand SystemUnit Boot Action: Restart")
        except Disconnected:
            pass   # the unit went down before its reply reached us: that is the reboot
