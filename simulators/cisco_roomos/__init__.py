"""Cisco TelePresence / Webex (TC, CE, RoomOS) codec simulator, by concern:

- ``model``: the xAPI as a device model (status/configuration leaves, settings, commands);
- ``terminal``: the byte-stream sessions (SSH shell, Telnet/TCP, RS-232) in terminal or JSON
  output, with per-session feedback;
- ``xml_http``: ``getxml``/``putxml`` and the session cookie over HTTPS (its own certificate)
  or HTTP.

Written from protocols.md section 1, not from the driver.
"""

from __future__ import annotations

from simulators.cisco_roomos.model import CAUSE_TYPES, Lit, XapiError
from simulators.cisco_roomos.terminal import TerminalSessions
from simulators.cisco_roomos.xml_http import XmlHttpApi
from simulators.codec_common import SimCall
from simulators.fabric import Cause
from simulators.harness import PtyServer, Server, SimConnection, TcpServer

__all__ = ["CiscoRoomOSSimulator", "Lit", "XapiError"]


class CiscoRoomOSSimulator(TerminalSessions, XmlHttpApi):
    def build_servers(self) -> list[Server]:
        if self.transport == "ssh":
            from simulators.ssh_server import SshServer

            return [SshServer(self, self.host, self.port, host_key=self.host_key)]
        if self.transport in ("https", "http"):
            from simulators.https_server import HttpsServer

            return [HttpsServer(self, self.host, self.port, tls=self.transport == "https",
                                identity=self.tls_identity)]
        if self.transport == "serial":
            return [PtyServer(self, baudrate=self.baudrate, link=self.serial_link or None)]
        return [TcpServer(self, self.host, self.port, telnet=self.transport == "telnet")]

    def handle_connection(self, conn: SimConnection) -> None:
        if getattr(conn, "http", False):
            from simulators.https_server import serve_http

            serve_http(conn, self.handle_http)
            return
        self.handle_stream(conn)

    def set_protocol_fault(self, knob: str, value: str) -> None:
        if knob == "no-session-api":
            self.faults.extra[knob] = "1"
            return
        super().set_protocol_fault(knob, value)

    def move_to(self, host: str) -> None:
        if self.transport == "serial":
            self.host = host   # the RS-232 line keeps its session when the IP address changes
            return
        super().move_to(host)

    def on_shutdown(self) -> None:
        self.http_sessions().clear()   # a reboot forgets every web session
        super().on_shutdown()

    def call_changed(self, call: SimCall) -> None:
        if call.state != "ended":
            self.push_status(self.call_leaves(call))
            return
        cause_type, cause_value = CAUSE_TYPES.get(call.cause or Cause.LOCAL, ("OtherLocal", 0))
        self.record_history(call, cause_type)
        self.push_event("CallDisconnect", [
            ("CauseValue", cause_value), ("CauseType", cause_type), ("CauseString", ""),
            ("OrigCallDirection", call.direction), ("RemoteURI", call.remote_uri),
            ("DisplayName", call.remote_name or call.remote_uri), ("CallId", call.call_id),
            ("CauseCode", cause_value), ("CauseOrigin", Lit("H323" if call.protocol == "h323" else "SIP")),
        ])
        self.push_status([], ghost_call=str(call.call_id))


